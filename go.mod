module github.com/wsgiproxy/wsgiproxy-go

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	golang.org/x/crypto v0.59.0
)
