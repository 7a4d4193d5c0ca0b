package wsgiproxy

import "strings"

// ctxHeaders are the context headers of a request, gathered in one pass
// over its header map: all of them, to remove once the request is
// restored, and the values of those the middleware reads, by number, so
// that reading one costs an index instead of a hash or a scan.
type ctxHeaders struct {
	all   []headerEntry
	known [numKnownHeaders][]string
}

type headerEntry struct {
	name string // as in the header map
	vals []string
}

// knownHeader numbers the context headers the middleware reads.
type knownHeader uint8

const (
	hVersion knownHeader = iota
	hForwarded
	hForwardedFor
	hForwardedHost
	hForwardedPort
	hForwardedPrefix
	hForwardedProto
	hForwardedScheme
	hForwardedScript
	hForwardedServer
	hScriptName
	hTraversalPath
	hOverrideHost
	hOverridePathInfo
	hOverrideQuery
	hOverrideScheme
	hOverrideScriptName
	numKnownHeaders
)

// knownHeaderNames are the canonical names of the known headers.
var knownHeaderNames = [numKnownHeaders]string{
	hVersion:            HeaderVersion,
	hForwarded:          HeaderForwarded,
	hForwardedFor:       HeaderForwardedFor,
	hForwardedHost:      HeaderForwardedHost,
	hForwardedPort:      HeaderForwardedPort,
	hForwardedPrefix:    HeaderForwardedPrefix,
	hForwardedProto:     HeaderForwardedProto,
	hForwardedScheme:    HeaderForwardedScheme,
	hForwardedScript:    HeaderForwardedScript,
	hForwardedServer:    HeaderForwardedServer,
	hScriptName:         HeaderScriptName,
	hTraversalPath:      HeaderTraversalPath,
	hOverrideHost:       HeaderOverrideHost,
	hOverridePathInfo:   HeaderOverridePathInfo,
	hOverrideQuery:      HeaderOverrideQuery,
	hOverrideScheme:     HeaderOverrideScheme,
	hOverrideScriptName: HeaderOverrideScriptName,
}

// display spells the header as the protocol documents it, for errors.
func (k knownHeader) display() string { return displayName(knownHeaderNames[k]) }

// lookupKnownHeader numbers a header name in canonical form, as Go's
// servers key their maps. A switch on constants is a few comparisons,
// cheaper than hashing the name. TestKnownHeaders checks it against
// knownHeaderNames.
func lookupKnownHeader(name string) (knownHeader, bool) {
	switch name {
	case HeaderVersion:
		return hVersion, true
	case HeaderForwarded:
		return hForwarded, true
	case HeaderForwardedFor:
		return hForwardedFor, true
	case HeaderForwardedHost:
		return hForwardedHost, true
	case HeaderForwardedPort:
		return hForwardedPort, true
	case HeaderForwardedPrefix:
		return hForwardedPrefix, true
	case HeaderForwardedProto:
		return hForwardedProto, true
	case HeaderForwardedScheme:
		return hForwardedScheme, true
	case HeaderForwardedScript:
		return hForwardedScript, true
	case HeaderForwardedServer:
		return hForwardedServer, true
	case HeaderScriptName:
		return hScriptName, true
	case HeaderTraversalPath:
		return hTraversalPath, true
	case HeaderOverrideHost:
		return hOverrideHost, true
	case HeaderOverridePathInfo:
		return hOverridePathInfo, true
	case HeaderOverrideQuery:
		return hOverrideQuery, true
	case HeaderOverrideScheme:
		return hOverrideScheme, true
	case HeaderOverrideScriptName:
		return hOverrideScriptName, true
	}
	return 0, false
}

// first returns the first value of a header.
func first(h *ctxHeaders, k knownHeader) (string, bool) {
	if vals := h.known[k]; len(vals) > 0 {
		return strings.TrimSpace(vals[0]), true
	}
	return "", false
}

// firstOf returns the first header of ks that is present.
func firstOf(h *ctxHeaders, ks ...knownHeader) (knownHeader, string, bool) {
	for _, k := range ks {
		if v, ok := first(h, k); ok {
			return k, v, true
		}
	}
	return 0, "", false
}

// lastList returns the last entry of a comma-separated list header: the
// one the nearest proxy added.
func lastList(h *ctxHeaders, k knownHeader) (string, bool) {
	vals := h.known[k]
	if len(vals) == 0 {
		return "", false
	}
	v := vals[len(vals)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v), true
}
