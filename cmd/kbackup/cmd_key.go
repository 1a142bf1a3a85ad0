package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/store"
	"github.com/kbackup/kbackup/store/crypt"
)

// encryptionConfig is the configuration file's encryption section.
type encryptionConfig struct {
	// Key is the key-encryption key URL (--encryption-key).
	Key string `yaml:"key"`
}

// encryptionKeyFlag is --encryption-key, taken by every command that reads
// or writes storage.
func encryptionKeyFlag() cli.Flag {
	return &cli.StringFlag{Name: "encryption-key", EnvVars: []string{"KBACKUP_ENCRYPTION_KEY"},
		Usage: "key-encryption key `URL` (gocloud.dev/secrets: base64key://…) of an encrypted backup; docs/security.md"}
}

// encryptionKey returns --encryption-key (or KBACKUP_ENCRYPTION_KEY) or the
// file's encryption.key.
func encryptionKey(c *cli.Context, fc *fileConfig) string {
	if c.IsSet("encryption-key") {
		return c.String("encryption-key")
	}
	return fc.Encryption.Key
}

// openStore opens the storage at url with the command's encryption key.
func openStore(c *cli.Context, fc *fileConfig, url string) (*store.Store, error) {
	return store.OpenWith(c.Context, url, store.Options{EncryptionKey: encryptionKey(c, fc)})
}

// openExistingStore opens storage that must already exist (read-only
// commands never create it), with the configured encryption key.
func openExistingStore(c *cli.Context, fc *fileConfig, url string) (*store.Store, error) {
	return store.OpenWith(c.Context, url, store.Options{EncryptionKey: encryptionKey(c, fc), Existing: true})
}

func keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "check or rotate the encryption key of an encrypted backup (docs/security.md)",
		Subcommands: []*cli.Command{
			{
				Name:   "check",
				Usage:  "prove that every object of the storage opens with --encryption-key (reads every object whole)",
				Flags:  adminFlags(),
				Action: runKeyCheck,
			},
			{
				Name:  "rotate",
				Usage: "wrap the backup's key under --new-key; only the key marker is rewritten, never segment data",
				Flags: adminFlags(&cli.StringFlag{Name: "new-key", EnvVars: []string{"KBACKUP_NEW_ENCRYPTION_KEY"}, Required: true,
					Usage: "the new key-encryption key `URL`"}),
				Action: runKeyRotate,
			},
		},
	}
}

func keyStore(c *cli.Context) (*store.Store, error) {
	st, fc, err := openStorage(c)
	if err != nil {
		return nil, err
	}
	if encryptionKey(c, fc) == "" {
		st.Close()
		return nil, fmt.Errorf("%w: --encryption-key (or KBACKUP_ENCRYPTION_KEY) is required", errUsage)
	}
	return st, nil
}

func runKeyCheck(c *cli.Context) error {
	st, err := keyStore(c)
	if err != nil {
		return err
	}
	defer st.Close()
	var n, bad int
	err = st.CheckKey(c.Context, func(key string, err error) {
		n++
		if err != nil {
			bad++
			fmt.Fprintf(c.App.Writer, "%s: %v\n", key, err)
		}
	})
	if err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%w: %d of %d objects do not open with the key", errDamage, bad, n)
	}
	fmt.Fprintf(c.App.Writer, "all %d objects open with the key\n", n)
	return nil
}

func runKeyRotate(c *cli.Context) error {
	st, err := keyStore(c)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RotateKey(c.Context, c.String("new-key")); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "the backup's key is now wrapped by %s; the old key no longer opens it\n", crypt.KEKName(c.String("new-key")))
	return nil
}
