package seccomp

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cachedFiles lists the programs in dir.
func cachedFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.bpf"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestCacheReusesTheCompiledProgram(t *testing.T) {
	cache := Cache{Dir: filepath.Join(t.TempDir(), "cache")}
	profile := dockerStyleProfile(t, nil)

	first, err := cache.Compile(profile)
	if err != nil {
		t.Fatal(err)
	}
	files := cachedFiles(t, cache.Dir)
	if len(files) != 1 {
		t.Fatalf("cache holds %v, want one program", files)
	}
	if info, err := os.Stat(cache.Dir); err != nil ||
		info.Mode().Perm() != 0o700 {
		t.Errorf("cache dir: %v, %v, want mode 0700", info.Mode(), err)
	}

	// What is in the cache is what gets loaded: replace it and see.
	allowAll := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K,
		K: unix.SECCOMP_RET_ALLOW}}
	if err := os.WriteFile(files[0], encodeBPF(allowAll), 0o600); err != nil {
		t.Fatal(err)
	}
	second, err := cache.Compile(profile)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(second.Program, allowAll) {
		t.Errorf("second compile did not take the cached program")
	}
	if second.Flags != first.Flags ||
		!slices.Equal(second.Skipped, first.Skipped) {
		t.Errorf("cached filter %#x %v, want %#x %v", second.Flags,
			second.Skipped, first.Flags, first.Skipped)
	}
}

func TestCacheKeyIgnoresFlagsAndListener(t *testing.T) {
	cache := Cache{Dir: t.TempDir()}
	profile := oneRule(specs.ActErrno, nil, "getppid")
	plain, err := cache.Compile(profile)
	if err != nil {
		t.Fatal(err)
	}

	logged := oneRule(specs.ActErrno, nil, "getppid")
	logged.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}
	withLog, err := cache.Compile(logged)
	if err != nil {
		t.Fatal(err)
	}
	if files := cachedFiles(t, cache.Dir); len(files) != 1 {
		t.Errorf("cache holds %v, want one program for both", files)
	}
	if withLog.Flags&unix.SECCOMP_FILTER_FLAG_LOG == 0 ||
		plain.Flags&unix.SECCOMP_FILTER_FLAG_LOG != 0 {
		t.Errorf("flags %#x and %#x, want LOG only in the second",
			plain.Flags, withLog.Flags)
	}

	other := oneRule(specs.ActErrno, errnoRet(unix.EXDEV), "getppid")
	if _, err := cache.Compile(other); err != nil {
		t.Fatal(err)
	}
	if files := cachedFiles(t, cache.Dir); len(files) != 2 {
		t.Errorf("cache holds %v, want a second program", files)
	}
}

func TestCacheReplacesABrokenProgram(t *testing.T) {
	cache := Cache{Dir: t.TempDir()}
	profile := oneRule(specs.ActErrno, nil, "getppid")
	want, err := Compile(profile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := cacheKey(profile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cache.Dir, key+".bpf")
	if err := os.WriteFile(path, []byte("1234567"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := cache.Compile(profile)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Program, want.Program) {
		t.Errorf("a broken cached program was used")
	}
	if raw, _ := os.ReadFile(path); len(raw) != 8*len(want.Program) {
		t.Errorf("cache file has %d bytes, want the new program", len(raw))
	}
}

func TestCacheRejectsBadProfilesToo(t *testing.T) {
	cache := Cache{Dir: t.TempDir()}
	_, err := cache.Compile(&specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"})
	if err == nil {
		t.Fatal("an unknown action compiled")
	}
	if files := cachedFiles(t, cache.Dir); len(files) != 0 {
		t.Errorf("cache holds %v after a bad profile", files)
	}
}

func TestFilterBinaryRoundTrip(t *testing.T) {
	filter, err := Compile(dockerStyleProfile(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	data, err := filter.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Filter
	if err := got.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if got.Flags != filter.Flags || !slices.Equal(got.Program, filter.Program) {
		t.Errorf("round trip changed the filter")
	}
	for _, bad := range [][]byte{nil, data[:7], data[:len(data)-1]} {
		if err := got.UnmarshalBinary(bad); err == nil {
			t.Errorf("%d bytes decoded", len(bad))
		}
	}
}

func BenchmarkCacheHitDockerStyleProfile(b *testing.B) {
	cache := Cache{Dir: b.TempDir()}
	profile := dockerStyleProfile(b, []specs.Arch{specs.ArchX86_64,
		specs.ArchX86, specs.ArchX32})
	if _, err := cache.Compile(profile); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := cache.Compile(profile); err != nil {
			b.Fatal(err)
		}
	}
}
