package admin

import (
	_ "embed"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The status page is rendered here with the data of the moment, so that
// it reads without JavaScript; status.js then polls /status.json and
// rebuilds the tables with the same columns, through textContent only.

//go:embed status.js
var script []byte

func serveScript(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Write(script)
}

func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	refresh := s.Refresh
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	page.Execute(w, struct {
		Status
		RefreshMillis int64
	}{s.status(time.Now()), refresh.Milliseconds()})
}

// routeName is how the page names a route: its name, its kind in
// parentheses for a command's single route, or "(no route)".
func routeName(name, kind string) string {
	switch {
	case name != "":
		return name
	case kind != "":
		return "(" + kind + ")"
	}
	return "(no route)"
}

// match spells what a route matches: "example.com/blog/*", "*/*".
func match(host, path string) string {
	if host == "" {
		host = "*"
	}
	return host + path + "/*"
}

func percent(rate float64) string { return strconv.FormatFloat(rate*100, 'f', 1, 64) + "%" }

func orNone(s []string) string {
	if len(s) == 0 {
		return "—"
	}
	return strings.Join(s, ", ")
}

var page = template.Must(template.New("status").Funcs(template.FuncMap{
	"routeName": routeName, "match": match, "percent": percent, "orNone": orNone,
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wsgiproxy status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222}
h1{margin:0 0 .2em}h2{margin:1.4em 0 .4em;font-size:1.15em}
.meta{color:#555}.meta span{margin-right:1.5em}
.ok{color:#0a0;font-weight:bold}.bad{color:#c00;font-weight:bold}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre,td.mono{font-family:ui-monospace,monospace;font-size:.9em}pre{margin:0;white-space:pre-wrap;max-height:12em;overflow:auto}
td{overflow-wrap:break-word}td.mono{overflow-wrap:anywhere}td:first-child,td.match{white-space:nowrap}.none{color:#888}
</style></head>
<body data-refresh="{{.RefreshMillis}}">
<h1>wsgiproxy status</h1>
<p class="meta"><span>version <code id="version">{{.Version}}</code></span><span>command <code id="command">{{.Command}}</code></span><span>up <b id="uptime">{{.Uptime}}</b></span>
<span id="ready">{{if .Ready}}<span class="ok">ready</span>{{else}}<span class="bad">not ready: {{.NotReady}}</span>{{end}}</span>
<span id="updated">as of {{clock .Now}} UTC</span></p>

<h2>Routes <small class="meta">(requests over the last {{.WindowSeconds}} s, and since the start)</small></h2>
<table><thead><tr><th>route</th><th>listener</th><th>match</th><th>kind</th><th>target</th><th>requests</th><th>4xx</th><th>5xx</th><th>error rate</th><th>total</th><th>total 5xx</th></tr></thead>
<tbody id="routes">{{range .Routes}}<tr><td>{{routeName .Name .Kind}}</td><td>{{.Listener}}</td><td class="mono match">{{match .Host .Path}}</td><td>{{.Kind}}</td><td class="mono">{{.Target}}</td><td class="n">{{.Recent.Requests}}</td><td class="n">{{.Recent.ClientErrors}}</td><td class="n">{{.Recent.ServerErrors}}</td><td class="n">{{percent .Recent.ErrorRate}}</td><td class="n">{{.Total.Requests}}</td><td class="n">{{.Total.ServerErrors}}</td></tr>
{{end}}</tbody></table>

<h2>Listeners</h2>
<table><thead><tr><th>listener</th><th>address</th></tr></thead>
<tbody id="listeners">{{range .Listeners}}<tr><td>{{.Name}}</td><td class="mono">{{.URL}}</td></tr>
{{end}}</tbody></table>

<h2>Spawned children</h2>
<table><thead><tr><th>route</th><th>state</th><th>pid</th><th>uptime</th><th>restarts</th><th>crashes</th><th>failed starts</th><th>last output</th></tr></thead>
<tbody id="children">{{range .Children}}<tr><td>{{routeName .Route "spawn"}}</td><td>{{.State}}{{if .LastError}} <span class="none">({{.LastError}})</span>{{end}}</td><td class="n">{{.Pid}}</td><td>{{.Uptime}}</td><td class="n">{{.Restarts}}</td><td class="n">{{.Crashes}}</td><td class="n">{{.FailedStarts}}</td><td><pre>{{range .Output}}{{.}}
{{end}}</pre></td></tr>
{{else}}<tr><td colspan="8" class="none">none</td></tr>
{{end}}</tbody></table>

<h2>Trust and signing keys</h2>
<table><thead><tr><th>route</th><th>trusted networks</th><th>standard proxies</th><th>verifies keyids</th><th>signs with keyids</th></tr></thead>
<tbody id="trust">{{range .Routes}}{{if .Kind}}<tr><td>{{routeName .Name .Kind}}</td><td class="mono">{{orNone .Trusted}}</td><td class="mono">{{orNone .TrustedStandard}}</td><td class="mono">{{orNone .VerifyKeyIDs}}</td><td class="mono">{{orNone .SignKeyIDs}}</td></tr>
{{end}}{{end}}</tbody></table>

<h2>Last errors</h2>
<table><thead><tr><th>time (UTC)</th><th>route</th><th>status</th><th>request</th><th>client</th><th>upstream</th><th>cause</th><th>request id</th></tr></thead>
<tbody id="errors">{{range .Errors}}<tr><td>{{clock .Time}}</td><td>{{routeName .Route ""}}</td><td class="n">{{.Status}}</td><td class="mono">{{.Method}} {{.Target}}</td><td class="mono">{{.Client}}</td><td class="mono">{{.Upstream}}</td><td>{{.Cause}}</td><td class="mono">{{.RequestID}}</td></tr>
{{else}}<tr><td colspan="8" class="none">none</td></tr>
{{end}}</tbody></table>
<script src="/status.js"></script>
</body></html>
`))
