// A second implementation of the EdgeCoder protocol's joining side, written from docs/protocol.md
// alone: it joins a mesh over TCP (with the mesh token's pre-shared key when given one), subscribes
// to the advert topic and verifies the first advert it receives; or it checks the protocol's test
// vectors. Each run prints one JSON line with its result.
//
//	go-peer join -addr /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW… [-timeout 60s]   (token: EDGECODER_MESH_TOKEN)
//	go-peer vectors docs/protocol-vectors.json
package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

const (
	advertTopic    = "/edgecoder/adverts/1"
	advertMaxBytes = 4096
	advertDomain   = "advert"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go-peer join -addr MULTIADDR | go-peer vectors FILE")
		os.Exit(2)
	}
	var out map[string]any
	switch os.Args[1] {
	case "join":
		fs := flag.NewFlagSet("join", flag.ExitOnError)
		addr := fs.String("addr", "", "the node's multiaddr, ending in /p2p/<peer id>")
		timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for an advert")
		_ = fs.Parse(os.Args[2:])
		out = join(*addr, os.Getenv("EDGECODER_MESH_TOKEN"), *timeout)
	case "vectors":
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: go-peer vectors FILE")
			os.Exit(2)
		}
		out = checkVectors(os.Args[2])
	default:
		fmt.Fprintf(os.Stderr, "go-peer: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
	if out["ok"] != true {
		os.Exit(1)
	}
}

// swarmKey derives a private mesh's pre-shared key from its token (docs/protocol.md §1) and
// writes it in the swarm key format, read back with go-libp2p's own decoder.
func swarmKey(token string) (pnet.PSK, error) {
	key, err := hkdf.Key(sha256.New, []byte(token), []byte("edgecoder mesh"), "pnet psk v1", 32)
	if err != nil {
		return nil, err
	}
	text := "/key/swarm/psk/1.0.0/\n/base16/\n" + hex.EncodeToString(key)
	return pnet.DecodeV1PSK(strings.NewReader(text))
}

func join(addr, token string, timeout time.Duration) map[string]any {
	out := map[string]any{"ok": false, "private": token != "", "connected": false}
	fail := func(stage string, err error) map[string]any {
		out["stage"] = stage
		out["error"] = err.Error()
		return out
	}
	info, err := peer.AddrInfoFromString(addr)
	if err != nil {
		return fail("address", err)
	}
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return fail("identity", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.NoListenAddrs,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay(),
	}
	if token != "" {
		psk, err := swarmKey(token)
		if err != nil {
			return fail("swarm-key", err)
		}
		opts = append(opts, libp2p.PrivateNetwork(psk))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return fail("host", err)
	}
	defer h.Close()
	out["self"] = h.ID().String()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Gossipsub's default policy is the one the mesh uses: messages signed by their author, and
	// unsigned or badly signed ones dropped.
	ps, err := pubsub.NewGossipSub(ctx, h)
	if err != nil {
		return fail("pubsub", err)
	}
	topic, err := ps.Join(advertTopic)
	if err != nil {
		return fail("subscribe", err)
	}
	sub, err := topic.Subscribe()
	if err != nil {
		return fail("subscribe", err)
	}
	dialCtx, dialCancel := context.WithTimeout(ctx, 20*time.Second)
	err = h.Connect(dialCtx, *info)
	dialCancel()
	if err != nil {
		return fail("connect", err)
	}
	out["connected"] = true
	out["remote"] = info.ID.String()

	for {
		msg, err := sub.Next(ctx)
		if err != nil {
			return fail("advert", err)
		}
		if msg.ReceivedFrom == h.ID() {
			continue
		}
		advert, err := checkAdvert(msg.Data, msg.GetFrom())
		out["advert"] = advert
		if err != nil {
			return fail("verify", err)
		}
		out["ok"] = true
		return out
	}
}

// checkAdvert checks one advert message as docs/protocol.md §3 says: size, shape, that the body
// names the gossip author, and the Ed25519 signature over the canonical JSON of the body.
func checkAdvert(data []byte, author peer.ID) (map[string]any, error) {
	res := map[string]any{"bytes": len(data), "author": author.String(), "verified": false}
	if len(data) > advertMaxBytes {
		return res, fmt.Errorf("advert is %d bytes, above %d", len(data), advertMaxBytes)
	}
	raw, err := parseJSON(data)
	if err != nil {
		return res, fmt.Errorf("advert is not JSON: %w", err)
	}
	msg, ok := raw.(map[string]any)
	if !ok {
		return res, fmt.Errorf("advert is not an object")
	}
	body, ok := msg["body"].(map[string]any)
	if !ok {
		return res, fmt.Errorf("advert has no body object")
	}
	sig, ok := msg["sig"].(string)
	if !ok {
		return res, fmt.Errorf("advert has no sig string")
	}
	peerID, _ := body["peerId"].(string)
	res["peerId"] = peerID
	res["seq"] = body["seq"]
	res["models"] = body["models"]
	res["version"] = body["version"]
	if peerID != author.String() {
		return res, fmt.Errorf("body.peerId %q is not the gossip author %s", peerID, author)
	}
	if err := verify(advertDomain, body, peerID, sig); err != nil {
		return res, err
	}
	res["verified"] = true
	return res, nil
}

// signingBytes is "edgecoder:" + domain + "\n" + canonicalJson(value), as UTF-8.
func signingBytes(domain string, value any) ([]byte, error) {
	c, err := canonicalJSON(value)
	if err != nil {
		return nil, err
	}
	return []byte("edgecoder:" + domain + "\n" + c), nil
}

// verify checks a base64url signature by the key the peer id embeds.
func verify(domain string, value any, peerID, sig string) error {
	id, err := peer.Decode(peerID)
	if err != nil {
		return fmt.Errorf("peer id %q: %w", peerID, err)
	}
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("peer id %q holds no public key: %w", peerID, err)
	}
	if pub.Type() != crypto.Ed25519 {
		return fmt.Errorf("peer id %q is not an Ed25519 key", peerID)
	}
	sigBytes, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("signature is not base64url: %w", err)
	}
	msg, err := signingBytes(domain, value)
	if err != nil {
		return err
	}
	ok, err := pub.Verify(msg, sigBytes)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("signature does not verify")
	}
	return nil
}
