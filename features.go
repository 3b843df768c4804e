package main

import (
	"encoding/json"
	"os"

	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli"

	"github.com/towel-runtime/towel/libcontainer/capabilities"
	"github.com/towel-runtime/towel/libcontainer/seccomp"
	"github.com/towel-runtime/towel/libcontainer/specconv"
)

var featuresCommand = cli.Command{
	Name:      "features",
	Usage:     "show the enabled features",
	ArgsUsage: "",
	Description: `Show the enabled features.
   The result is parsable as a JSON.
   See https://github.com/opencontainers/runtime-spec/blob/main/features.md for the type definition.
`,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 0, exactArgs); err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "    ")
		return enc.Encode(featureSet())
	},
}

// featureSet is what towel supports at this commit; every entry must be
// true to the code, so callers can rely on it.
func featureSet() *features.Features {
	t := true
	f := &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specVersion,
		Hooks: []string{"prestart", "createRuntime", "createContainer",
			"startContainer", "poststart", "poststop"},
		MountOptions: specconv.KnownMountOptions(),
		Linux: &features.Linux{
			Namespaces: []string{"cgroup", "ipc", "mount", "network",
				"pid", "time", "user", "uts"},
			Capabilities: capabilities.Known(),
			Cgroup: &features.Cgroup{
				V1: &t, V2: &t,
				// Tested against a real systemd (cgroups_systemd.bats);
				// the user manager (rootless) is not, so it is not
				// claimed.
				Systemd: &t,
			},
			Seccomp: seccomp.FeaturesInfo(),
			// Both are applied by init (package lsm); the host may still
			// lack them, which "enabled" does not describe.
			Apparmor: &features.Apparmor{Enabled: &t},
			Selinux:  &features.Selinux{Enabled: &t},
			// resctrl groups are made when a config asks for one
			// (libcontainer/intelrdt); this says towel supports it,
			// not that this host has resctrl, as runc's features.
			IntelRdt: &features.IntelRdt{Enabled: &t},
			MountExtensions: &features.MountExtensions{
				// id-mapped bind mounts, made by the parent with
				// mount_setattr(2); a kernel or file system that cannot
				// id-map fails the create with ErrIDMapUnsupported.
				IDMap: &features.IDMap{Enabled: &t},
			},
		},
		Annotations: map[string]string{
			"org.opencontainers.runc.version":            version,
			"org.opencontainers.runc.checkpoint.enabled": "true",
		},
		PotentiallyUnsafeConfigAnnotations: []string{},
	}
	if gitCommit != "" {
		f.Annotations["org.opencontainers.runc.commit"] = gitCommit
	}
	if v := seccomp.Version(); v != "" {
		f.Annotations["io.github.seccomp.libseccomp.version"] = v
	}
	return f
}
