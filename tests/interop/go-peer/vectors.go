package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// checkVectors checks docs/protocol-vectors.json against this implementation: keys and peer ids
// from the seeds, canonical JSON, signing bytes, and signatures (verified, and made anew from the
// seed: Ed25519 is deterministic, so they must be the same bytes).
func checkVectors(path string) map[string]any {
	out := map[string]any{"ok": false}
	var failures []string
	failf := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }
	data, err := os.ReadFile(path)
	if err != nil {
		out["error"] = err.Error()
		return out
	}
	raw, err := parseJSON(data)
	if err != nil {
		out["error"] = err.Error()
		return out
	}
	doc, _ := raw.(map[string]any)

	seeds := map[string]ed25519.PrivateKey{}
	keys, _ := doc["keys"].(map[string]any)
	for name, k := range keys {
		entry, _ := k.(map[string]any)
		seed, _ := hex.DecodeString(str(entry["seedHex"]))
		if len(seed) != ed25519.SeedSize {
			failf("keys.%s: seed is not 32 bytes", name)
			continue
		}
		priv := ed25519.NewKeyFromSeed(seed)
		pub := priv.Public().(ed25519.PublicKey)
		if hex.EncodeToString(pub) != str(entry["publicKeyHex"]) {
			failf("keys.%s: public key %x, vector says %s", name, pub, entry["publicKeyHex"])
		}
		lpub, err := crypto.UnmarshalEd25519PublicKey(pub)
		if err != nil {
			failf("keys.%s: %v", name, err)
			continue
		}
		id, err := peer.IDFromPublicKey(lpub)
		if err != nil || id.String() != str(entry["peerId"]) {
			failf("keys.%s: peer id %s, vector says %s", name, id, entry["peerId"])
		}
		seeds[id.String()] = priv
	}

	cases, _ := doc["canonicalJson"].([]any)
	for i, c := range cases {
		entry, _ := c.(map[string]any)
		got, err := canonicalJSON(entry["input"])
		if err != nil || got != str(entry["output"]) {
			failf("canonicalJson[%d]: got %s (%v), vector says %s", i, got, err, entry["output"])
		}
	}

	signed := 0
	for _, name := range signedVectors {
		entry, ok := doc[name].(map[string]any)
		if !ok {
			failf("%s: missing", name)
			continue
		}
		body, _ := entry["body"].(map[string]any)
		// An advert is signed by the peer it describes, a task offer by its origin.
		signer := str(body["peerId"])
		if domain := str(entry["domain"]); domain == "task-offer" {
			signer = str(body["origin"])
		}
		domain := str(entry["domain"])
		msg, err := signingBytes(domain, body)
		if err != nil || hex.EncodeToString(msg) != str(entry["signingBytesHex"]) {
			failf("%s: signing bytes differ (%v)", name, err)
			continue
		}
		if err := verify(domain, body, signer, str(entry["sig"])); err != nil {
			failf("%s: %v", name, err)
			continue
		}
		priv, ok := seeds[signer]
		if !ok {
			failf("%s: signer %s is not one of the vector keys", name, signer)
			continue
		}
		want, _ := base64.RawURLEncoding.DecodeString(str(entry["sig"]))
		if !bytes.Equal(ed25519.Sign(priv, msg), want) {
			failf("%s: signing anew gives another signature", name)
			continue
		}
		signed++
	}
	if err := checkEmbedResult(doc["embedResultFrame"]); err != nil {
		failf("embedResultFrame: %v", err)
	}
	out["keys"] = len(seeds)
	out["canonicalJson"] = len(cases)
	out["signatures"] = signed
	out["failures"] = failures
	out["ok"] = len(failures) == 0 && signed == len(signedVectors) && len(cases) > 0
	return out
}

// The signed values among the vectors.
var signedVectors = []string{"advert", "taskOffer", "embedOffer"}

// checkEmbedResult reads an embed task's result frame as docs/protocol.md §4 describes it: one
// vector of finite numbers per input, at most 16 vectors of at most 8192 dimensions.
func checkEmbedResult(v any) error {
	frame, ok := v.(map[string]any)
	if !ok || frame["type"] != "result" || frame["status"] != "succeeded" {
		return fmt.Errorf("not a succeeded result frame")
	}
	result, _ := frame["result"].(map[string]any)
	vectors, ok := result["embeddings"].([]any)
	if !ok || len(vectors) == 0 || len(vectors) > 16 {
		return fmt.Errorf("embeddings is not a list of 1 to 16 vectors")
	}
	for i, vec := range vectors {
		nums, ok := vec.([]any)
		if !ok || len(nums) == 0 || len(nums) > 8192 {
			return fmt.Errorf("vector %d is not 1 to 8192 numbers", i)
		}
		for _, n := range nums {
			if _, ok := n.(json.Number); !ok {
				return fmt.Errorf("vector %d holds a non-number", i)
			}
		}
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
