//go:build linux

package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// runBare serves a bare httputil.ReverseProxy to the upstream: no routing,
// no auth, no metering, no ledger. It is the ceiling any Go proxy reaches
// on this machine, with the same transport and server settings as
// Sluice's (gateway.NewTransport, app.Start's server) and,
// as Sluice does, its 32 KiB copy buffers reused rather than made anew
// for every answer.
func runBare(args []string) error {
	fs := flag.NewFlagSet("bare", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	upstream := fs.String("upstream", "", "upstream base URL")
	fs.Parse(args)
	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		return fmt.Errorf("bare: -upstream %q is not a URL", *upstream)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport:  gateway.NewTransport(0),
		BufferPool: &bufferPool{},
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	os.Stdout.Sync()
	// The body is read whole before it is forwarded, as Sluice does: an
	// HTTP/1 server closes a request body it has not read once the
	// response starts, and a transport still sending it then drops the
	// upstream connection mid-answer (golang/go#40747).
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
			rp.ServeHTTP(w, r)
		}),
	}
	return srv.Serve(ln)
}

// bufferPool is an httputil.BufferPool of 32 KiB buffers.
type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) Get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }
