// Package echo is the sample application of WSGIProxy: it answers every
// request with the environ it sees, as an HTML table or, when the client
// accepts application/json, as JSON. Put it behind the backend middleware
// to see what a front proxy passed on; with the middleware's Explain set,
// it also shows the context headers as they arrived and where each
// restored value came from.
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
	// Explanation is how the middleware restored the environ; it is
	// left out unless the middleware's Explain is set.
	Explanation *wsgiproxy.Explanation `json:"explanation,omitempty"`
}

// Handler answers with the request's environ. It never reads the body.
var Handler http.Handler = http.HandlerFunc(serve)

func serve(w http.ResponseWriter, r *http.Request) {
	resp := Response{Environ: wsgiproxy.EnvironOf(r).Map(), URL: wsgiproxy.RequestURL(r), Explanation: wsgiproxy.ExplanationOf(r)}
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
		from := ""
		if resp.Explanation != nil {
			from = resp.Explanation.Sources[k]
		}
		rows = append(rows, row{k, s, from})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	page.Execute(w, struct {
		URL  string
		Rows []row
		Ex   *wsgiproxy.Explanation
	}{resp.URL, rows, resp.Explanation})
}

// row is one environ variable; From says where its value came from
// (empty without an explanation).
type row struct{ Key, Value, From string }

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
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;vertical-align:top;text-align:left}td{font-family:monospace;white-space:pre-wrap}
.cols{display:flex;flex-wrap:wrap;gap:2em;align-items:flex-start}.cols>section{flex:1 1 30em;min-width:0}td{overflow-wrap:anywhere}
.note{color:#555}td.from,td:first-child{white-space:nowrap;overflow-wrap:normal}td.from{color:#555}
.used{background:#e6f4ea}.checked{background:#eef3fb}.unused{color:#777}.untrusted{color:#a00}.untrusted td:first-child{text-decoration:line-through}</style>
</head><body>
<h1>wsgiproxy echo</h1>
<p>URL: <code>{{.URL}}</code></p>
<div class="cols">
<section><h2>Environ</h2>
<table>{{if .Ex}}<tr><th>key</th><th>value</th><th>from</th></tr>
{{end}}{{range .Rows}}<tr><td>{{.Key}}</td><td>{{.Value}}</td>{{if $.Ex}}<td class="from">{{.From}}</td>{{end}}</tr>
{{end}}</table></section>
{{with .Ex}}<section><h2>On the wire</h2>
<p>Peer <code>{{.Peer}}</code>: <strong>{{.Trust}}</strong>.</p>
{{if .Headers}}<table><tr><th>context header</th><th>value</th><th>status</th></tr>
{{range .Headers}}<tr class="{{.Status}}"><td>{{.Name}}</td><td>{{range $i, $v := .Values}}{{if $i}}
{{end}}{{$v}}{{end}}</td><td>{{if eq .Status "untrusted"}}removed: untrusted{{else}}{{.Status}}{{end}}</td></tr>
{{end}}</table>{{else}}<p>No context headers arrived.</p>{{end}}
<p class="note"><em>used</em>: a value came from it; <em>checked</em>: read, gives no value;
<em>unused</em>: another header won, or nothing reads it; <em>removed: untrusted</em>: dropped unread.
The application sees none of these headers.
In the environ, <em>peer</em> is the connection's address, <em>direct</em> the request as it arrived,
<em>forced</em> the middleware's settings.</p>
</section>{{end}}
</div>
</body></html>
`))
