package main

// The key-encryption key schemes of --encryption-key beside base64key://
// (which package store/crypt registers): the clouds' KMS and HashiCorp
// Vault's transit engine through gocloud.dev/secrets. The drivers open
// their clients only when a URL of their scheme is opened, so a binary
// that uses none makes no call.
import (
	_ "gocloud.dev/secrets/awskms"        // awskms://
	_ "gocloud.dev/secrets/azurekeyvault" // azurekeyvault://
	_ "gocloud.dev/secrets/gcpkms"        // gcpkms://
	_ "gocloud.dev/secrets/hashivault"    // hashivault:// (server and token from VAULT_ADDR and VAULT_TOKEN)
)
