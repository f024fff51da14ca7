package admin

import (
	"embed"
	"io/fs"
	"net/http"
)

// web is the dashboard: hand-written HTML, CSS and JavaScript, no build
// step and nothing fetched from elsewhere.
//
//go:embed web
var web embed.FS

var webFS, _ = fs.Sub(web, "web")

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/", "/index.html":
		// The page frames nothing and is framed by nothing.
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
		http.ServeFileFS(w, r, webFS, "index.html")
	case "/app.js", "/app.css":
		http.ServeFileFS(w, r, webFS, r.URL.Path[1:])
	default:
		writeError(w, http.StatusNotFound, "not found: "+r.URL.Path)
	}
}
