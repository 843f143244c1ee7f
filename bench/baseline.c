/*
 * bench/baseline.c: the benchmark's baseline FastCGI responder.
 *
 * A minimal multi-threaded libfcgi responder: N threads each accept on the
 * listening socket spawn-fcgi hands over as fd 0 and answer every request
 * with the same fixed JSON body (the bytes of a file read at start-up, so the
 * body is exactly the size of the real /info/6 answer). It does nothing else,
 * so nginx + libfcgi + this is the ceiling the Swift front is compared with.
 *
 *   usage: bazar-baseline THREADS BODY_FILE
 *   build: gcc -O2 -o bazar-baseline baseline.c -lfcgi -lpthread
 *   run:   spawn-fcgi -s SOCKET -- ./bazar-baseline 32 body.json
 *
 * The response has the same header set as a front cache hit: Status,
 * Content-Type, X-Cache, X-Upstream and Content-Length.
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *response;      /* header block + body, built once */
static int response_len;

static void *serve(void *arg) {
    (void)arg;
    /* libfcgi's streams point back into the request: keep it on the heap,
     * one per thread, never moved. */
    FCGX_Request *request = calloc(1, sizeof *request);
    if (request == NULL || FCGX_InitRequest(request, 0, 0) != 0) {
        fprintf(stderr, "baseline: cannot initialise a request\n");
        exit(1);
    }
    for (;;) {
        if (FCGX_Accept_r(request) < 0) {
            usleep(10000);
            continue;
        }
        FCGX_PutStr(response, response_len, request->out);
        FCGX_Finish_r(request);
    }
    return NULL;
}

static char *read_file(const char *path, long *length) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    char *data = NULL;
    if (fseek(file, 0, SEEK_END) == 0) {
        long size = ftell(file);
        if (size >= 0 && fseek(file, 0, SEEK_SET) == 0) {
            data = malloc((size_t)size + 1);
            if (data != NULL && fread(data, 1, (size_t)size, file) != (size_t)size) {
                free(data);
                data = NULL;
            } else if (data != NULL) {
                *length = size;
            }
        }
    }
    fclose(file);
    return data;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s THREADS BODY_FILE\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]);
    if (threads < 1 || threads > 1024) {
        fprintf(stderr, "baseline: THREADS must be 1..1024\n");
        return 2;
    }
    long body_len = 0;
    char *body = read_file(argv[2], &body_len);
    if (body == NULL) {
        fprintf(stderr, "baseline: cannot read %s\n", argv[2]);
        return 2;
    }

    char head[256];
    int head_len = snprintf(head, sizeof head,
                            "Status: 200 OK\r\n"
                            "Content-Type: application/json; charset=utf-8\r\n"
                            "X-Cache: HIT\r\n"
                            "X-Upstream: baseline\r\n"
                            "Content-Length: %ld\r\n\r\n",
                            body_len);
    response_len = head_len + (int)body_len;
    response = malloc((size_t)response_len);
    if (response == NULL) return 1;
    memcpy(response, head, (size_t)head_len);
    memcpy(response + head_len, body, (size_t)body_len);
    free(body);

    if (FCGX_Init() != 0) {
        fprintf(stderr, "baseline: FCGX_Init failed\n");
        return 1;
    }
    /* FCGX_Init installs handlers that only set a "shutdown pending" flag,
     * after which every FCGX_Accept_r fails at once: let SIGTERM and SIGINT
     * end the process instead, and never die of a closed connection. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    if (ids == NULL) return 1;
    for (int i = 0; i < threads; i++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        if (pthread_create(&ids[i], &attr, serve, NULL) != 0) {
            fprintf(stderr, "baseline: pthread_create failed\n");
            return 1;
        }
        pthread_attr_destroy(&attr);
    }
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    return 0;
}
