package seccomp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Cache keeps compiled programs in a directory, because libseccomp takes
// milliseconds to build a large profile (some 15 ms for Docker's with
// three x86 ABIs) and orchestrators send the same profile for every
// container. A program is keyed by everything it depends on: the profile,
// the libseccomp version and the native architecture.
//
// A program read from the cache is loaded as it is, so Dir must be
// writable by root only; the runtime's root directory is.
type Cache struct {
	// Dir holds one file per program; it is made (0700) if missing.
	// Empty means no cache.
	Dir string
}

// cacheFormat changes whenever what goes into a program does, so that
// programs from an older towel are not reused.
const cacheFormat = "towel-seccomp-1"

// Compile is the package's Compile, with the program taken from the cache
// when it is there and put there when it is not.
func (c Cache) Compile(cfg *specs.LinuxSeccomp) (*Filter, error) {
	if cfg == nil {
		return nil, fmt.Errorf("compile seccomp profile: no profile")
	}
	if c.Dir == "" {
		return Compile(cfg)
	}
	if err := Validate(cfg); err != nil {
		return nil, err
	}
	key, err := cacheKey(cfg)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(c.Dir, key+".bpf")

	if raw, err := os.ReadFile(path); err == nil {
		prog, err := decodeBPF(raw)
		if err == nil && len(prog) <= maxInsns {
			return &Filter{
				Program: prog,
				Flags:   filterFlags(cfg),
				Skipped: UnknownSyscalls(cfg),
			}, nil
		}
	}

	filter, err := Compile(cfg)
	if err != nil {
		return nil, err
	}
	// The cache only saves time: a filter that cannot be stored is as
	// good, and the next container tries again.
	_ = c.store(path, filter.Program)
	return filter, nil
}

// cacheKey hashes what the program depends on. Flags and the listener do
// not change the program; they are worked out again on each use.
func cacheKey(cfg *specs.LinuxSeccomp) (string, error) {
	program := *cfg
	program.Flags = nil
	program.ListenerPath, program.ListenerMetadata = "", ""
	profile, err := json.Marshal(&program)
	if err != nil {
		return "", fmt.Errorf("seccomp cache key: %w", err)
	}
	native, err := nativeArch()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00",
		cacheFormat, Version(), native.audit)
	h.Write(profile)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// store writes prog to path atomically: a reader sees all of it or
// nothing.
func (c Cache) store(path string, prog []unix.SockFilter) error {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.Dir, ".bpf-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(encodeBPF(prog)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// encodeBPF is the inverse of decodeBPF: struct sock_filter in the
// machine's byte order.
func encodeBPF(prog []unix.SockFilter) []byte {
	raw := make([]byte, 0, len(prog)*8)
	for _, insn := range prog {
		raw = binary.NativeEndian.AppendUint16(raw, insn.Code)
		raw = append(raw, insn.Jt, insn.Jf)
		raw = binary.NativeEndian.AppendUint32(raw, insn.K)
	}
	return raw
}

// MarshalBinary encodes the program and flags of f (not Skipped) for
// another process on this machine, such as init, to load: the flags as a
// 64-bit word, then the program as the kernel takes it.
func (f *Filter) MarshalBinary() ([]byte, error) {
	data := binary.NativeEndian.AppendUint64(nil, uint64(f.Flags))
	return append(data, encodeBPF(f.Program)...), nil
}

// UnmarshalBinary decodes what MarshalBinary encoded.
func (f *Filter) UnmarshalBinary(data []byte) error {
	if len(data) < 8 {
		return fmt.Errorf("decode seccomp filter: %d bytes", len(data))
	}
	prog, err := decodeBPF(data[8:])
	if err != nil {
		return err
	}
	if len(prog) > maxInsns {
		return fmt.Errorf("decode seccomp filter: %d instructions",
			len(prog))
	}
	f.Flags = uint(binary.NativeEndian.Uint64(data))
	f.Program = prog
	f.Skipped = nil
	return nil
}
