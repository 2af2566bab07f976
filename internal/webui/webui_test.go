package webui

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

// checkSecure asserts the headers every response carries.
func checkSecure(t *testing.T, path string, w *httptest.ResponseRecorder) {
	t.Helper()
	h := w.Header()
	if h.Get("Content-Security-Policy") != csp || h.Get("X-Content-Type-Options") != "nosniff" ||
		h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("%s: security headers %v", path, h)
	}
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("the policy allows more than the page's own scripts: %s", csp)
	}
}

// Both pages are served as HTML with the security headers, and every
// script and style sheet they name is served under AssetPrefix.
func TestPagesAndTheirAssets(t *testing.T) {
	t.Parallel()
	ref := regexp.MustCompile(`(?:src|href)="(` + regexp.QuoteMeta(AssetPrefix) + `[^"]+)"`)
	for name, h := range map[string]http.Handler{"node": Node(), "devnet": Devnet()} {
		w := get(t, h, "/")
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("%s page: %d %s", name, w.Code, w.Header().Get("Content-Type"))
		}
		checkSecure(t, name, w)
		body := w.Body.String()
		if strings.Contains(body, "<script>") {
			t.Errorf("%s page has an inline script, which its policy blocks", name)
		}
		refs := ref.FindAllStringSubmatch(body, -1)
		if len(refs) == 0 {
			t.Fatalf("%s page names no asset under %s", name, AssetPrefix)
		}
		for _, m := range refs {
			a := get(t, Assets(), m[1])
			if a.Code != http.StatusOK || a.Body.Len() == 0 {
				t.Errorf("%s page's asset %s: %d, %d bytes", name, m[1], a.Code, a.Body.Len())
			}
			checkSecure(t, m[1], a)
		}
	}
}

// Assets lists no directory and serves nothing outside its files.
func TestAssetsRefuseListingsAndMissing(t *testing.T) {
	t.Parallel()
	for _, p := range []string{AssetPrefix, AssetPrefix + "missing.js", AssetPrefix + "../webui.go"} {
		w := get(t, Assets(), p)
		if w.Code == http.StatusOK {
			t.Errorf("GET %s: 200 (%d bytes), want an error", p, w.Body.Len())
		}
		checkSecure(t, p, w)
	}
}
