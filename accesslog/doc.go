// Package accesslog writes one line per finished request, as an
// [observe.Observer]: JSON (the default), or nginx's and Apache's
// "combined" and "common" formats, which existing log tools parse.
//
// A request never waits on the disk. Observe formats the line and adds
// it to an in-memory buffer; a goroutine writes the buffer out at least
// once a second (sooner when it fills), and on Close. While the file
// does not take the writes (a full or slow disk), the buffer grows to
// its bound and further lines are dropped: counted, and the count is
// logged each second there were drops.
//
// What a client sends (the target, the User-Agent, the Referer) is
// escaped, so that a line stays one line and, in JSON, one valid value.
// A [Logger] opened on a file reopens it on Reopen, which the wsgiproxy
// command calls on SIGHUP and SIGUSR1 (for logrotate).
package accesslog
