package seccomp

import (
	"fmt"
	"maps"
	"slices"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// VersionAnnotation is the `features` annotation that carries Version,
// under the name runc uses.
const VersionAnnotation = "io.github.seccomp.libseccomp.version"

// Version returns the version of the libseccomp library in use, such as
// "2.5.4".
func Version() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}

// FeaturesInfo describes seccomp support for `towel features`: the
// actions, operators and flags a profile may use, the architectures the
// linked libseccomp can build filters for, and the flags this kernel
// takes. Lists are sorted.
func FeaturesInfo() *features.Seccomp {
	enabled := true
	info := &features.Seccomp{Enabled: &enabled}
	for _, action := range slices.Sorted(maps.Keys(actions)) {
		info.Actions = append(info.Actions, string(action))
	}
	for _, op := range slices.Sorted(maps.Keys(operators)) {
		info.Operators = append(info.Operators, string(op))
	}
	for _, arch := range slices.Sorted(maps.Keys(archs)) {
		if archSupported(archs[arch].scmp) {
			info.Archs = append(info.Archs, string(arch))
		}
	}
	for _, flag := range slices.Sorted(maps.Keys(flags)) {
		info.KnownFlags = append(info.KnownFlags, string(flag))
		if flagUsable(flag) {
			info.SupportedFlags = append(info.SupportedFlags,
				string(flag))
		}
	}
	return info
}

// flagUsable tells whether this kernel takes flag in some profile.
func flagUsable(flag specs.LinuxSeccompFlag) bool {
	return validateFlag(flag, true) == nil
}
