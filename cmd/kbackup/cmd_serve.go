package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/fs"
	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/fs/webdav"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the browse tree over WebDAV and as HTML pages; COPY a snapshot into restore/ to restore it (docs/serve.md)",
		Flags: append([]cli.Flag{
			storageFlag(), encryptionKeyFlag(), brokersFlag(),
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "`HOST:PORT` to serve on; beyond loopback needs --tls-cert, --tls-key and --htpasswd or --token-file"},
			&cli.DurationFlag{Name: "refresh", Value: fs.DefaultRefresh, Usage: "re-read topics, manifests and indexes older than this"},
			&cli.StringFlag{Name: "tls-cert", Usage: "TLS certificate `FILE` (PEM)"},
			&cli.StringFlag{Name: "tls-key", Usage: "TLS private key `FILE` (PEM)"},
			&cli.StringFlag{Name: "htpasswd", Usage: "users and bcrypt hashes `FILE` (htpasswd -B) for HTTP basic authentication"},
			&cli.StringFlag{Name: "token-file", Usage: "`FILE` holding a bearer token accepted for the user \"token\""},
			&cli.StringSliceFlag{Name: "restore-users", Usage: "`USER`s who may start and cancel restores (default: every authenticated user)"},
		}, append(restoreFlags(), logFlags()...)...),
		Action: runServe,
	}
}

func runServe(c *cli.Context) error {
	if c.NArg() != 0 {
		return fmt.Errorf("%w: serve takes no arguments (got %d)", errUsage, c.NArg())
	}
	fc, log, kc, err := loadEnv(c)
	if err != nil {
		return err
	}
	url := storageURL(c, fc)
	if url == "" {
		return fmt.Errorf("%w: --storage is required", errUsage)
	}
	auth := &webdav.Auth{RestoreUsers: c.StringSlice("restore-users"), TokenUser: "token"}
	if f := c.String("htpasswd"); f != "" {
		r, err := os.Open(f)
		if err != nil {
			return fmt.Errorf("%w: --htpasswd: %v", errUsage, err)
		}
		auth.Users, err = webdav.ParseHtpasswd(r)
		r.Close()
		if err != nil {
			return fmt.Errorf("%w: --htpasswd %s: %v", errUsage, f, err)
		}
	}
	if f := c.String("token-file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("%w: --token-file: %v", errUsage, err)
		}
		if auth.Token = strings.TrimSpace(string(b)); len(auth.Token) < 16 {
			return fmt.Errorf("%w: --token-file %s: the token must be at least 16 characters", errUsage, f)
		}
	}
	cert, key := c.String("tls-cert"), c.String("tls-key")
	if (cert == "") != (key == "") {
		return fmt.Errorf("%w: --tls-cert and --tls-key go together", errUsage)
	}
	if err := webdav.CheckListen(c.String("listen"), cert != "", auth); err != nil {
		return fmt.Errorf("%w: %v; give --tls-cert, --tls-key and --htpasswd or --token-file, or listen on 127.0.0.1", errUsage, err)
	}
	st, err := openExistingStore(c, fc, url)
	if err != nil {
		return err
	}
	defer st.Close()
	r, done, err := copyRestorer(c, st, kc, log)
	if err != nil {
		return err
	}
	defer done()
	tree := browse.New(context.WithoutCancel(c.Context), st, browse.Options{Refresh: c.Duration("refresh"), Restorer: r, Logger: log})
	h := webdav.New(tree, webdav.Options{MayRestore: auth.MayRestore, Logger: log})
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: auth.Wrap(h), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-c.Context.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	scheme := "http"
	if cert != "" {
		scheme = "https"
	}
	log.Info("serving", "url", scheme+"://"+ln.Addr().String()+"/", "storage", st.URL(), "restore", r != nil, "auth", auth.Enabled())
	if cert != "" {
		err = srv.ServeTLS(ln, cert, key)
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
