package criu

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/checkpoint-restore/go-criu/v6/rpc"
	"google.golang.org/protobuf/proto"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// requireCriu skips a test that needs the real criu.
func requireCriu(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("criu needs root")
	}
	if _, err := Probe(); err != nil {
		t.Skipf("no usable criu (script/install-criu.sh installs one): %v",
			err)
	}
}

// kernelTracksMemory asks criu's command line, independently of the RPC
// feature check, whether the kernel has soft-dirty tracking.
func kernelTracksMemory() bool {
	return exec.Command("criu", "check", "--feature",
		"mem_dirty_track").Run() == nil
}

func TestFeatureCheckAgreesWithCriuCheck(t *testing.T) {
	requireCriu(t)
	err := needFeature(&rpc.CriuFeatures{MemTrack: proto.Bool(true)}, "")
	if kernelTracksMemory() {
		if err != nil {
			t.Fatalf("criu check finds mem_dirty_track, the RPC says %v",
				err)
		}
		return
	}
	if !errors.Is(err, ErrMissingFeature) {
		t.Fatalf("criu check finds no mem_dirty_track, the RPC says %v",
			err)
	}
}

func TestPreDumpWithoutMemoryTrackingWritesNothing(t *testing.T) {
	requireCriu(t)
	if kernelTracksMemory() {
		t.Skip("this kernel has soft-dirty tracking")
	}
	images := filepath.Join(t.TempDir(), "images")
	// The feature check comes first: the target is never looked at.
	target := &Target{Config: &configs.Config{Rootfs: "/"}, InitPid: 1}
	err := Dump(target, &Options{ImagePath: images, PreDump: true,
		StatusFd: -1}, nil)
	if !errors.Is(err, ErrMissingFeature) {
		t.Fatalf("pre-dump: %v, want ErrMissingFeature", err)
	}
	if _, err := os.Stat(images); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pre-dump left %s behind (%v)", images, err)
	}
}
