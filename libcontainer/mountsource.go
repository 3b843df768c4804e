package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/towel-runtime/towel/libcontainer/configs"
	"github.com/towel-runtime/towel/libcontainer/rootfs"
	"github.com/towel-runtime/towel/libcontainer/userns"
)

// Mount sources made by the parent.
//
// Some mounts cannot be made by init: an id-mapped mount needs
// CAP_SYS_ADMIN over the source's file system, which only the host's user
// namespace has, while init runs in the container's. The parent makes
// those trees (rootfs.NeedsSource says which) once the C stage has
// reported init's pid, and sends them right after init's config, one
// syncFd message named fdMount each, in the order of cfg.Mounts. init
// reads them before it mounts anything; the fds arrive close-on-exec.

// fdMount names a mount tree sent with syncFd.
const fdMount = "mount"

// makeMountSources makes the trees cfg's mounts need, for the container
// whose init is initPid. The caller closes them.
func makeMountSources(cfg *configs.Config, initPid int) (
	files []*os.File, retErr error) {
	nsFds := map[string]*os.File{}
	defer func() {
		for _, f := range nsFds {
			f.Close()
		}
		if retErr != nil {
			for _, f := range files {
				f.Close()
			}
			files = nil
		}
	}()

	for _, m := range cfg.Mounts {
		if !rootfs.NeedsSource(m) {
			continue
		}
		ns, err := idmapUserns(cfg, m.IDMapping, initPid, nsFds)
		if err != nil {
			return files, fmt.Errorf("mount %q: %w", m.Destination, err)
		}
		tree, err := rootfs.IDMappedSource(m, int(ns.Fd()))
		if err != nil {
			return files, fmt.Errorf("mount %q: %w", m.Destination, err)
		}
		logrus.Debugf("id-mapped %s for %s", m.Source, m.Destination)
		files = append(files, tree)
	}
	return files, nil
}

// idmapUserns returns a user namespace holding idm's maps: the one at
// idm.UserNSPath, the container's own when the maps are the container's,
// else a new one. Namespaces are kept in cache, keyed by their maps or
// path, for the other mounts.
func idmapUserns(cfg *configs.Config, idm *configs.MountIDMapping,
	initPid int, cache map[string]*os.File) (*os.File, error) {
	key := "path:" + idm.UserNSPath
	if idm.UserNSPath == "" {
		key = userns.Format(idm.UIDMappings) + "/" +
			userns.Format(idm.GIDMappings)
	}
	if f, ok := cache[key]; ok {
		return f, nil
	}

	var (
		ns  *os.File
		err error
	)
	ownUserns := cfg.Namespaces.Contains(configs.NEWUSER) &&
		cfg.Namespaces.PathOf(configs.NEWUSER) == ""
	switch {
	case idm.UserNSPath != "":
		ns, err = os.Open(idm.UserNSPath)
	case ownUserns && userns.Equal(idm.UIDMappings, cfg.UIDMappings) &&
		userns.Equal(idm.GIDMappings, cfg.GIDMappings):
		ns, err = os.Open("/proc/" + strconv.Itoa(initPid) + "/ns/user")
	default:
		ns, err = userns.New(idm.UIDMappings, idm.GIDMappings)
	}
	if err != nil {
		return nil, fmt.Errorf("user namespace for the id map: %w", err)
	}
	cache[key] = ns
	return ns, nil
}

// sendMountSources makes and sends the trees s asks for.
func sendMountSources(sock *os.File, s *startSpec, initPid int) error {
	if s.mountSources == nil {
		return nil
	}
	files, err := s.mountSources(initPid)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, f := range files {
		msg := syncMsg{Type: syncFd, Name: fdMount}
		if err := writeMsg(sock, msg, int(f.Fd())); err != nil {
			return fmt.Errorf("send mount source to init: %w", err)
		}
	}
	return nil
}

// receiveMountSources reads the trees the parent sent for cfg's mounts.
func receiveMountSources(sock *os.File, cfg *configs.Config) (
	rootfs.Sources, error) {
	var sources rootfs.Sources
	for i, m := range cfg.Mounts {
		if !rootfs.NeedsSource(m) {
			continue
		}
		var msg syncMsg
		f, err := readMsg(sock, &msg)
		if err == nil && (msg.Type != syncFd || msg.Name != fdMount ||
			f == nil) {
			err = errors.New("unexpected message from parent")
		}
		if err != nil {
			if f != nil {
				f.Close()
			}
			sources.Close()
			return nil, fmt.Errorf("receive the source of mount %q: %w",
				m.Destination, err)
		}
		if sources == nil {
			sources = rootfs.Sources{}
		}
		sources[i] = f
	}
	return sources, nil
}
