// SPDX-License-Identifier: GPL-2.0
/*
 * ngx_http_dts_module: a SKETCH of what an nginx module needs to hand an
 * HTTP/1.x connection over to another DTS node (DTS_SO_HANDOVER,
 * include/dts_handover.h). Read examples/c/nginx/README.md first: it says
 * why stock nginx cannot do this and what every part below is for.
 *
 * Status: compiles (tests/host/c-api.sh checks it against nginx's headers
 * when they are installed); built once as a dynamic module, it loaded into
 * Debian 12's stock nginx 1.22.1 and, without the dts module, declined
 * every request (ENOPROTOOPT) so that nginx served it. A successful
 * handover through it has never been run. Do not deploy it.
 *
 *     thread_pool dts threads=4;          # main context
 *     http {
 *         server {
 *             listen 8080;                # the service's proxy port
 *             location /n2/ {
 *                 dts_handover 2;         # hand these requests to node 2
 *                 dts_handover_thread_pool dts;
 *                 root /srv/www;          # served here if the handover fails
 *             }
 *         }
 *     }
 *
 * The handler runs in the PREACCESS phase of the main request: nginx has
 * read and parsed the request head, nothing has been written to the client
 * and the body has not been read. It passes the bytes nginx read, from the
 * request line's first byte to the end of what is in r->header_in (the
 * head, and any body or pipelined bytes read with it), to the module,
 * which adds what is still in the socket's receive queue. The call blocks
 * for up to DTS_HANDOVER_TIMEOUT_MS, so it runs in a thread pool (nginx
 * built --with-threads, as Debian's is); without a pool it blocks the
 * worker's event loop (acceptable for a test, not for a server).
 *
 * On success the connection is the destination node's: the request is
 * freed and the connection closed at once, without a byte written, without
 * keep-alive and without the lingering close that ngx_http_finalize_request
 * could choose (its shutdown(SHUT_WR) and 5 s of reading would be wrong on
 * a socket whose connection lives elsewhere). On failure the phase handler
 * declines and nginx serves the request itself, as dts-proxy does.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "dts_handover.h"


typedef struct {
    ngx_int_t             node;        /* dts_handover: 1..DTS_MAX_NODE_ID */
#if (NGX_THREADS)
    ngx_thread_pool_t    *thread_pool; /* dts_handover_thread_pool */
#endif
} ngx_http_dts_loc_conf_t;


/* A handover of one request: in the request's ctx and the thread task. */
typedef struct {
    ngx_http_request_t   *request;
    ngx_socket_t          fd;
    ngx_uint_t            node;
    u_char               *buf;         /* the bytes nginx read */
    size_t                len;
    ngx_int_t             rc;          /* 0 or -1 */
    ngx_err_t             err;         /* errno of a failure */
    unsigned              posted:1;
    unsigned              done:1;
} ngx_http_dts_ctx_t;


static ngx_int_t ngx_http_dts_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_dts_eligible(ngx_http_request_t *r);
static void ngx_http_dts_call(ngx_http_dts_ctx_t *ctx);
static ngx_int_t ngx_http_dts_settle(ngx_http_request_t *r,
    ngx_http_dts_ctx_t *ctx);
#if (NGX_THREADS)
static void ngx_http_dts_thread_handler(void *data, ngx_log_t *log);
static void ngx_http_dts_thread_event_handler(ngx_event_t *ev);
static char *ngx_http_dts_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
#endif
static void *ngx_http_dts_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_dts_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_dts_init(ngx_conf_t *cf);


static ngx_conf_num_bounds_t  ngx_http_dts_node_bounds = {
    ngx_conf_check_num_bounds, 1, DTS_MAX_NODE_ID
};


static ngx_command_t  ngx_http_dts_commands[] = {

    { ngx_string("dts_handover"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_dts_loc_conf_t, node),
      &ngx_http_dts_node_bounds },

#if (NGX_THREADS)
    { ngx_string("dts_handover_thread_pool"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_dts_thread_pool,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },
#endif

      ngx_null_command
};


static ngx_http_module_t  ngx_http_dts_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_dts_init,                     /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_dts_create_loc_conf,          /* create location configuration */
    ngx_http_dts_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_dts_module = {
    NGX_MODULE_V1,
    &ngx_http_dts_module_ctx,              /* module context */
    ngx_http_dts_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The PREACCESS phase handler. NGX_DECLINED: nginx goes on with the
 * request (no handover configured, not eligible, or the handover failed);
 * NGX_AGAIN: a thread runs the call, and its completion re-enters the
 * phases (this handler again, with ctx->done); NGX_DONE: the connection is
 * gone (handed over).
 */
static ngx_int_t
ngx_http_dts_handler(ngx_http_request_t *r)
{
    ngx_http_dts_ctx_t       *ctx;
    ngx_http_dts_loc_conf_t  *dlcf;

    dlcf = ngx_http_get_module_loc_conf(r, ngx_http_dts_module);

    if (dlcf->node <= 0) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_dts_module);

    if (ctx != NULL) {
        /* Re-entered after the thread's completion, which settled a
         * success itself: here only a failure arrives. */
        return ctx->done ? NGX_DECLINED : NGX_AGAIN;
    }

    if (ngx_http_dts_eligible(r) != NGX_OK) {
        return NGX_DECLINED;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_dts_ctx_t));
    if (ctx == NULL) {
        return NGX_DECLINED;
    }

    ctx->request = r;
    ctx->fd = r->connection->fd;
    ctx->node = (ngx_uint_t) dlcf->node;
    ctx->buf = r->request_start;
    ctx->len = r->header_in->last - r->request_start;

    ngx_http_set_ctx(r, ctx, ngx_http_dts_module);

#if (NGX_THREADS)
    if (dlcf->thread_pool) {
        ngx_thread_task_t  *task;

        task = ngx_thread_task_alloc(r->pool, sizeof(ngx_http_dts_ctx_t *));
        if (task == NULL) {
            ctx->done = 1;
            return NGX_DECLINED;
        }

        *(ngx_http_dts_ctx_t **) task->ctx = ctx;
        task->handler = ngx_http_dts_thread_handler;
        task->event.data = r;
        task->event.handler = ngx_http_dts_thread_event_handler;

        if (ngx_thread_task_post(dlcf->thread_pool, task) != NGX_OK) {
            ctx->done = 1;
            return NGX_DECLINED;
        }

        /* The request (its pool, the buffer the thread reads) must live
         * until the completion: "blocked" keeps ngx_http_close_request
         * from freeing it, as for aio. */
        r->main->blocked++;
        r->aio = 1;
        ctx->posted = 1;

        return NGX_AGAIN;
    }
#endif

    /* No thread pool: the call blocks this worker (up to 3 s). */
    ngx_http_dts_call(ctx);
    ctx->done = 1;

    return ngx_http_dts_settle(r, ctx);
}


/*
 * Whether the request can be handed over: a plain HTTP/1.x main request
 * whose request line and everything nginx read after it are in
 * r->header_in, with nothing written to the client and no body read.
 */
static ngx_int_t
ngx_http_dts_eligible(ngx_http_request_t *r)
{
    ngx_connection_t  *c = r->connection;

    if (r != r->main || r->internal || r->header_sent
        || r->request_body != NULL || r->discard_body || r->reading_body)
    {
        return NGX_DECLINED;
    }

    /* HTTP/2 and HTTP/3 multiplex streams over one connection. */
    if (r->http_version > NGX_HTTP_VERSION_11) {
        return NGX_DECLINED;
    }

#if (NGX_HTTP_SSL)
    /* The TLS session lives in this process's OpenSSL state. */
    if (c->ssl) {
        return NGX_DECLINED;
    }
#endif

    if (c->sockaddr->sa_family != AF_INET || c->buffered) {
        return NGX_DECLINED;
    }

    if (r->request_start == NULL || r->header_in == NULL
        || r->request_start < r->header_in->start
        || r->request_start > r->header_in->last
        || (size_t) (r->header_in->last - r->request_start)
           > DTS_HANDOVER_MAX_BUF)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* The call itself; in a thread of the pool, or in the worker. */
static void
ngx_http_dts_call(ngx_http_dts_ctx_t *ctx)
{
    ctx->rc = dts_request_handover(ctx->fd, (unsigned int) ctx->node,
                                   ctx->buf, ctx->len);
    ctx->err = ctx->rc == 0 ? 0 : ngx_errno;
}


/*
 * The call's outcome, in the worker. Success: free the request and close
 * the connection at once (what ngx_http_close_request does when the last
 * reference goes), never ngx_http_finalize_request, which could keep the
 * connection alive or close it lingering. Failure: decline, and nginx
 * serves the request itself.
 */
static ngx_int_t
ngx_http_dts_settle(ngx_http_request_t *r, ngx_http_dts_ctx_t *ctx)
{
    ngx_connection_t  *c = r->connection;
    const char        *name;

    if (ctx->rc != 0) {
        name = dts_errno_name(ctx->err);
        ngx_log_error(NGX_LOG_INFO, c->log, ctx->err,
                      "dts: handover to node %ui failed (%s), served here",
                      ctx->node, name ? name : "?");
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "dts: handed over to node %ui, %uz bytes", ctx->node,
                  ctx->len);

    if (r->main->count != 1) {
        /* Someone else holds the request: not in this phase, normally. The
         * socket must not be written to any more, so end without a
         * response and let nginx close it when they let go. */
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "dts: handed over with request count %ud",
                      (unsigned int) r->main->count);
        r->keepalive = 0;
        r->lingering_close = 0;
        c->error = 1;
        ngx_http_finalize_request(r, NGX_ERROR);
        return NGX_DONE;
    }

    /* The access log records the request with status 0 ("000"). */
    r->main->count = 0;
    ngx_http_free_request(r, 0);
    ngx_http_close_connection(c);  /* close(2): SO_LINGER 0, RST dropped */

    return NGX_DONE;
}


#if (NGX_THREADS)

/* In a thread of the pool: only the system call, no nginx state. */
static void
ngx_http_dts_thread_handler(void *data, ngx_log_t *log)
{
    ngx_http_dts_ctx_t  *ctx = *(ngx_http_dts_ctx_t **) data;

    (void) log;
    ngx_http_dts_call(ctx);
}


/* Back in the worker's event loop. */
static void
ngx_http_dts_thread_event_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_http_dts_ctx_t  *ctx;

    r = ev->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_dts_module);

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;
    r->aio = 0;
    ctx->done = 1;

    if (ngx_http_dts_settle(r, ctx) == NGX_DONE) {
        /* The request and the connection are gone: touch neither. */
        return;
    }

    /* Failed: run the phases again; the handler declines this time. */
    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


static char *
ngx_http_dts_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_dts_loc_conf_t  *dlcf = conf;
    ngx_str_t                *value;

    (void) cmd;

    if (dlcf->thread_pool != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    dlcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (dlcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}

#endif


static void *
ngx_http_dts_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_dts_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_dts_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->node = NGX_CONF_UNSET;
#if (NGX_THREADS)
    conf->thread_pool = NGX_CONF_UNSET_PTR;
#endif

    return conf;
}


static char *
ngx_http_dts_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_dts_loc_conf_t  *prev = parent;
    ngx_http_dts_loc_conf_t  *conf = child;

    (void) cf;

    ngx_conf_merge_value(conf->node, prev->node, 0);
#if (NGX_THREADS)
    ngx_conf_merge_ptr_value(conf->thread_pool, prev->thread_pool, NULL);
#endif

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_dts_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_dts_handler;

    return NGX_OK;
}
