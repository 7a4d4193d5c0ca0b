package accesslog

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wsgiproxy/wsgiproxy-go/observe"
)

// Format is the format of a log line.
type Format int

const (
	JSON     Format = iota // one JSON object per line (the default)
	Combined               // nginx's and Apache's "combined"
	Common                 // the Common Log Format (combined without referer and user agent)
)

// ParseFormat parses a format's name: "json", "combined" or "common".
func ParseFormat(name string) (Format, error) {
	switch name {
	case "json", "":
		return JSON, nil
	case "combined":
		return Combined, nil
	case "common":
		return Common, nil
	}
	return 0, fmt.Errorf("accesslog: unknown format %q (want json, combined or common)", name)
}

// String returns the format's name.
func (f Format) String() string {
	switch f {
	case JSON:
		return "json"
	case Combined:
		return "combined"
	case Common:
		return "common"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// appendLine appends r's line in format f, ending in a newline.
func appendLine(b []byte, f Format, r *observe.Record) []byte {
	if f == JSON {
		return appendJSON(b, r)
	}
	return appendCombined(b, f == Combined, r)
}

// timeLayout is the time of a JSON line: RFC 3339, in milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// appendJSON appends r as one JSON object. Fields that are empty for a
// request (no upstream, no signature) are left out; see the package's
// documentation in docs/observability.md.
func appendJSON(b []byte, r *observe.Record) []byte {
	b = append(b, `{"time":"`...)
	b = appendTime(b, r.Start)
	b = append(b, `","client":"`...)
	b = appendClient(b, r)
	b = append(b, '"')
	if r.Client.IsValid() && r.Peer != "" { // else the client is the peer
		b = appendStringField(b, "peer", r.Peer)
	}
	b = appendStringField(b, "method", r.Method)
	b = appendStringField(b, "target", r.Target)
	b = appendStringField(b, "proto", r.Proto)
	b = appendStringField(b, "host", r.Host)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, r.BytesOut, 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, r.BytesIn, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, r.Duration)
	b = appendStringField(b, "request_id", r.RequestID)
	if r.Route != "" {
		b = appendStringField(b, "route", r.Route)
	}
	if r.Upstream != "" {
		b = appendStringField(b, "upstream", r.Upstream)
		if r.UpstreamTTFB > 0 {
			b = append(b, `,"upstream_ttfb_ms":`...)
			b = appendMillis(b, r.UpstreamTTFB)
		}
		if r.Attempts > 1 {
			b = append(b, `,"attempts":`...)
			b = strconv.AppendInt(b, int64(r.Attempts), 10)
		}
	}
	if r.UpstreamError != "" {
		b = appendStringField(b, "upstream_error", r.UpstreamError)
	}
	if r.KeyID != "" {
		b = appendStringField(b, "keyid", r.KeyID)
	}
	if r.Refusal != "" {
		b = appendStringField(b, "refusal", r.Refusal)
	}
	if r.RefusedHeader != "" {
		b = appendStringField(b, "refused_header", r.RefusedHeader)
	}
	if r.Trace.Target != "" {
		b = appendStringField(b, "forward_to", r.Trace.Target)
	}
	if r.Aborted {
		b = append(b, `,"aborted":true`...)
	}
	if r.Referer != "" {
		b = appendStringField(b, "referer", r.Referer)
	}
	if r.UserAgent != "" {
		b = appendStringField(b, "user_agent", r.UserAgent)
	}
	return append(b, "}\n"...)
}

// appendClient appends the client's address: the restored one, or the
// peer's IP, or "-" for a unix socket peer.
func appendClient(b []byte, r *observe.Record) []byte {
	if a := r.ClientAddr(); a.IsValid() {
		return a.AppendTo(b)
	}
	return append(b, '-')
}

// appendMillis appends d in milliseconds with three decimals.
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

func appendStringField(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	b = appendJSONString(b, v)
	return append(b, '"')
}

const (
	hexDigits = "0123456789abcdef"
	upperHex  = "0123456789ABCDEF"
)

// appendJSONString appends s escaped for a JSON string: quotes,
// backslashes and control characters escaped, invalid UTF-8 as U+FFFD,
// and U+2028 and U+2029 escaped (they end a line in JavaScript).
func appendJSONString(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case utf8.RuneError:
				b = append(b, `\ufffd`...)
			case '\u2028':
				b = append(b, `\u2028`...)
			default:
				b = append(b, `\u2029`...)
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// clfTimeLayout is the time of a combined or common line, as nginx's
// $time_local and Apache's %t.
const clfTimeLayout = "02/Jan/2006:15:04:05 -0700"

// appendCombined appends r in nginx's "combined" format
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//
// or, without referer and user agent, the common one. The remote user is
// always "-"; the request line is "-" when there was none.
func appendCombined(b []byte, combined bool, r *observe.Record) []byte {
	b = appendClient(b, r)
	b = append(b, " - - ["...)
	b = appendCLFTime(b, r.Start)
	b = append(b, `] "`...)
	b = appendCLFString(b, r.Method)
	b = append(b, ' ')
	b = appendCLFString(b, r.Target)
	b = append(b, ' ')
	b = appendCLFString(b, r.Proto)
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.BytesOut, 10)
	if combined {
		b = append(b, ` "`...)
		b = appendCLFValue(b, r.Referer)
		b = append(b, `" "`...)
		b = appendCLFValue(b, r.UserAgent)
		b = append(b, '"')
	}
	return append(b, '\n')
}

// appendCLFValue appends a header's value, "-" when empty, as nginx does.
func appendCLFValue(b []byte, v string) []byte {
	if v == "" {
		return append(b, '-')
	}
	return appendCLFString(b, v)
}

// appendCLFString appends s escaped as nginx escapes its default log
// format: '"', '\\', and the bytes below 32 or above 126 as \xHH.
func appendCLFString(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\', 'x', upperHex[c>>4], upperHex[c&0xf])
		start = i + 1
	}
	return append(b, s[start:]...)
}
