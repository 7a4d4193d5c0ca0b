package config

import (
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// AccessLog is the [access_log] table: where wsgiproxy serve writes a
// line per request, and in which format.
type AccessLog struct {
	// Path is a file (relative to the config file's directory), "-"
	// for standard output (the default) or "off".
	Path string
	// Format is "json" (the default), "combined" or "common".
	Format string
}

type rawAccessLog struct {
	Path   leaf `toml:"path"`
	Format leaf `toml:"format"`
}

// accessLog checks the [access_log] table; the log is on, to standard
// output in JSON, when the table or a key is missing.
func (c *checker) accessLog(raw *rawAccessLog, dir string) AccessLog {
	a := AccessLog{Path: "-", Format: "json"}
	if raw == nil {
		return a
	}
	k := toml.Key{"access_log"}
	a.Format = c.oneOf(key(k, "format"), raw.Format, "json", "combined", "common")
	if !raw.Path.set {
		return a
	}
	p, ok := raw.Path.v.(string)
	switch {
	case !ok:
		c.str(key(k, "path"), raw.Path) // the type's mistake
	case p == "":
		c.errorf(key(k, "path"), `want a file, "-" (standard output) or "off"`)
	case p == "-" || p == "off":
		a.Path = p
	default:
		a.Path = inDir(dir, p)
		if st, err := os.Stat(filepath.Dir(a.Path)); err != nil || !st.IsDir() {
			c.errorf(key(k, "path"), "%q: no directory %s for the log", p, filepath.Dir(a.Path))
		} else if st, err := os.Stat(a.Path); err == nil && st.IsDir() {
			c.errorf(key(k, "path"), "%q is a directory", p)
		}
	}
	return a
}
