// Package echo is the sample application of WSGIProxy: it answers every
// request with the environ it sees, as an HTML table or, when the client
// accepts application/json, as JSON. Put it behind the backend middleware
// to see what a front proxy passed on.
package echo

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/wsgiproxy/wsgiproxy-go/wsgiproxy"
)

// Response is the JSON body of the echo application.
type Response struct {
	// Environ holds the core variables and headers as strings, and the
	// extra keys with their own types.
	Environ map[string]any `json:"environ"`
	// URL is scheme://HTTP_HOST SCRIPT_NAME PATH_INFO ?QUERY_STRING.
	URL string `json:"url"`
}

// Handler answers with the request's environ. It never reads the body.
var Handler http.Handler = http.HandlerFunc(serve)

func serve(w http.ResponseWriter, r *http.Request) {
	resp := Response{Environ: wsgiproxy.EnvironOf(r).Map(), URL: wsgiproxy.RequestURL(r)}
	w.Header().Set("Cache-Control", "no-store")
	if wantsJSON(r.Header.Get("Accept")) {
		for k, v := range resp.Environ {
			if _, err := json.Marshal(v); err != nil {
				// JSON has no NaN or Infinity (a pickled float may be
				// one): show such a value as Go prints it.
				resp.Environ[k] = fmt.Sprintf("%v", v)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		enc.Encode(resp) // every value marshals now; a write error means the client left
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rows := make([]row, 0, len(resp.Environ))
	for k, v := range resp.Environ {
		s, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			if err != nil {
				b = []byte(fmt.Sprintf("%#v", v))
			}
			s = string(b)
		}
		rows = append(rows, row{k, s})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	page.Execute(w, struct {
		URL  string
		Rows []row
	}{resp.URL, rows})
}

type row struct{ Key, Value string }

func wantsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(part, ";")
		mt = strings.TrimSpace(mt)
		if mt == "application/json" {
			return true
		}
	}
	return false
}

var page = template.Must(template.New("echo").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>wsgiproxy echo</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td{border:1px solid #ccc;padding:.2em .5em;font-family:monospace;vertical-align:top;white-space:pre-wrap}</style>
</head><body>
<h1>wsgiproxy echo</h1>
<p>URL: <code>{{.URL}}</code></p>
<table>{{range .Rows}}<tr><td>{{.Key}}</td><td>{{.Value}}</td></tr>
{{end}}</table>
</body></html>
`))
