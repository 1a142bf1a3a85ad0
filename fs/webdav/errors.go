package webdav

import "errors"

// ErrInsecure means a non-loopback address was asked for without TLS or
// without authentication.
var ErrInsecure = errors.New("serving beyond loopback needs TLS and authentication")
