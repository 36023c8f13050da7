// Package dockertest gives tests a Docker Engine and a tiny image of their
// own, built from the host's static busybox (Debian's busybox-static) with
// `docker import`: this machine's Engine has no registry to pull from.
// Tests skip, saying why, where no Engine answers or busybox is missing.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/gomesos/gomesos/internal/docker"
)

// BusyboxPath is where Debian's busybox-static installs its binary.
const BusyboxPath = "/bin/busybox"

// ImagePrefix names every image the tests create.
const ImagePrefix = "gomesos-test-"

// Engine connects to the Docker Engine at the default socket, or skips the
// test when none answers.
func Engine(t testing.TB) *docker.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eng, err := docker.Connect(ctx, os.Getenv("GOMESOS_TEST_DOCKER_SOCKET"))
	if err != nil {
		t.Skipf("Docker tests need a Docker Engine: %v", err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}

// BusyboxImage imports an image holding only a static busybox and its
// applets' links in /bin (sh, echo, sleep, httpd, ...), named
// gomesos-test-busybox:<random>, and removes it when the test ends. It
// skips the test when the host has no static busybox.
func BusyboxImage(t testing.TB, eng *docker.Engine) string {
	t.Helper()
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Skipf("Docker tests build their image from a static busybox (apt-get install busybox-static): %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	add := func(h *tar.Header, body []byte) {
		h.ModTime = now
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin/", "tmp/", "etc/", "proc/", "sys/", "dev/", "mnt/"} {
		add(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))}, bin)
	for _, applet := range []string{"sh", "echo", "sleep", "cat", "ls", "true", "false", "httpd", "wget", "env", "ps", "kill"} {
		add(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return Import(t, eng, "busybox", &buf)
}

// Import makes an image of the files in the tar stream layer (`docker
// import`), named gomesos-test-<name>:<random>, and removes it when the
// test ends.
func Import(t testing.TB, eng *docker.Engine, name string, layer io.Reader) string {
	t.Helper()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	ref := ImagePrefix + name + ":" + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := eng.ImageImport(ctx, client.ImageImportSource{Source: layer, SourceName: "-"}, ref, client.ImageImportOptions{})
	if err != nil {
		t.Fatalf("docker import %s: %v", ref, err)
	}
	_, _ = io.Copy(io.Discard, res)
	_ = res.Close()
	if _, err := eng.ImageInspect(ctx, ref); err != nil {
		t.Fatalf("docker import %s made no image: %v", ref, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := eng.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !docker.IsNotFound(err) {
			t.Logf("removing image %s: %v", ref, err)
		}
	})
	return ref
}
