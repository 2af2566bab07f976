package webui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// AssetPrefix is the path under which Assets serves the pages' files.
const AssetPrefix = "/web/"

//go:embed static
var files embed.FS

// static is files without its top directory.
var static = func() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}()

// csp allows the page's own scripts, styles and connections (fetch and
// WebSocket) only; no inline script, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// secure sets the headers every response of the web view carries.
func secure(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}

// page serves one HTML file of static.
func page(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := fs.ReadFile(static, name)
		if err != nil {
			http.Error(w, "page missing from the binary", http.StatusInternalServerError)
			return
		}
		secure(w.Header())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(data)
	})
}

// Node returns the handler of one node's page (mount it at GET /).
func Node() http.Handler { return page("node.html") }

// Devnet returns the handler of the devnet page (mount it at GET /).
func Devnet() http.Handler { return page("devnet.html") }

// Assets returns the handler of the pages' scripts and style sheet
// (mount it at GET AssetPrefix); other paths are 404.
func Assets() http.Handler {
	fsrv := http.StripPrefix(AssetPrefix, http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w.Header())
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		fsrv.ServeHTTP(w, r)
	})
}
