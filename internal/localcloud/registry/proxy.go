package registry

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"time"
)

// serveFront serves the proxy on ln: it checks the credentials, then
// passes the request to docker-registry. The Host header is kept, so the
// registry's upload locations name the address clients used.
func (r *Registry) serveFront(ln net.Listener) {
	target := &url.URL{Scheme: "http", Host: r.backend.String()}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1
	proxy.Transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}
	r.front = &http.Server{Handler: r.authorize(proxy), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = r.front.Serve(ln) }()
}

// authorize lets pulls through (unless Config.PullAuth) and asks for the
// push credentials for everything else, answering as a registry does.
func (r *Registry) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		read := req.Method == http.MethodGet || req.Method == http.MethodHead
		if (!read || r.cfg.PullAuth) && !r.credentialsOK(req) {
			what := "pushing to"
			if read {
				what = "pulling from"
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="localcloud registry"`)
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = fmt.Fprintf(w, `{"errors":[{"code":"UNAUTHORIZED","message":"%s localcloud's registry needs its credentials: user %s, localcloud's API token as the password","detail":null}]}`+"\n", what, PushUser)
			return
		}
		next.ServeHTTP(w, req)
	})
}

func (r *Registry) credentialsOK(req *http.Request) bool {
	u, p, ok := req.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(u), []byte(r.cfg.Push.Username)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(r.cfg.Push.Password)) == 1
}

// freeLoopbackPort picks a free port on 127.0.0.1 for docker-registry.
func freeLoopbackPort() (netip.AddrPort, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer func() { _ = ln.Close() }()
	return netip.ParseAddrPort(ln.Addr().String())
}
