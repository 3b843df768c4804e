package specconv

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// flagOption is a mount option that sets or clears mount(2) flags.
type flagOption struct {
	clear bool
	flag  int
}

// mountFlagOptions are the options mount(8) maps to MS_* flags. An option
// with clear set asks for the flag to be off; on a bind mount that is
// applied in the remount even when it is the only option (runc 1.2).
//
// "acl" is missing on purpose: MS_POSIXACL is a superblock flag the kernel
// only honours for file systems that ask for it, so the option is passed to
// the file system as data, as mount(8) does.
var mountFlagOptions = map[string]flagOption{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// propagationOptions map the propagation options to the flags mount(2)
// takes to change a mount's propagation type.
var propagationOptions = map[string]int{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// recAttrOption is a recursive mount attribute (runtime-spec 1.1 "rro",
// "rnosuid", ...), applied with mount_setattr(2) and AT_RECURSIVE.
type recAttrOption struct {
	clear bool
	attr  uint64
}

var recAttrOptions = map[string]recAttrOption{
	"rro":            {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":            {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {false, unix.MOUNT_ATTR_NODEV},
	"rdev":           {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME},
	"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {true, unix.MOUNT_ATTR_RELATIME},
	"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME},
	"ratime":         {true, unix.MOUNT_ATTR_NOATIME},
	"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {true, unix.MOUNT_ATTR_STRICTATIME},
	"rnosymfollow":   {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// The options that are neither flags nor data: id-mapped mounts
// (runtime-spec 1.2) and the copy-up extension for tmpfs mounts that runc
// and crun share.
const (
	optIDMap     = "idmap"
	optRIDMap    = "ridmap"
	optTmpCopyUp = "tmpcopyup"
)

// KnownMountOptions returns, sorted, every mount option towel acts on
// itself rather than passing to the file system as data. The features
// command reports it as mountOptions.
func KnownMountOptions() []string {
	known := []string{optIDMap, optRIDMap, optTmpCopyUp}
	for o := range mountFlagOptions {
		known = append(known, o)
	}
	for o := range propagationOptions {
		known = append(known, o)
	}
	for o := range recAttrOptions {
		known = append(known, o)
	}
	sort.Strings(known)
	return known
}

// ParseMount converts one entry of config.json's mounts into a
// configs.Mount, the way runc 1.2 reads it: flag options set or clear
// MS_* flags (the cleared ones are kept in ClearedFlags), propagation
// options and recursive attributes are collected, "idmap", "ridmap" and
// the mount's uidMappings/gidMappings make an id-mapped mount, and every
// other option is file system data.
//
// A mount is a bind mount when its type is "bind" or it has the "bind" or
// "rbind" option; its Device is then "bind", a relative source is taken
// from bundle, and file system data is an error, since the kernel would
// silently ignore it.
//
// A relative destination is accepted and taken from "/", as runc 1.2 does;
// runc warns that this is deprecated, so callers that log should warn when
// m.Destination is not absolute.
func ParseMount(m specs.Mount, bundle string) (*configs.Mount, error) {
	for _, s := range []string{m.Source, m.Destination, m.Type} {
		// The value travels to init as a C string; a NUL would cut it.
		if strings.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("mount %q: a field contains a NUL byte",
				m.Destination)
		}
	}
	if m.Destination == "" {
		return nil, errors.New("mount has no destination")
	}

	mnt := &configs.Mount{
		Source:      m.Source,
		Destination: m.Destination,
		Device:      m.Type,
	}
	if !filepath.IsAbs(mnt.Destination) {
		mnt.Destination = "/" + mnt.Destination
	}

	data := parseOptions(mnt, m.Options)

	if m.Type == "bind" {
		mnt.Flags |= unix.MS_BIND
	}
	if mnt.IsBind() {
		mnt.Device = "bind"
		if len(data) > 0 {
			return nil, fmt.Errorf("mount %q: option %q is file system"+
				" data, which a bind mount cannot apply", m.Destination,
				data[0])
		}
		if mnt.Source == "" {
			return nil, fmt.Errorf("bind mount %q has no source",
				m.Destination)
		}
		if !filepath.IsAbs(mnt.Source) {
			mnt.Source = filepath.Join(bundle, mnt.Source)
		}
	}
	mnt.Data = strings.Join(data, ",")

	if m.UIDMappings != nil || m.GIDMappings != nil {
		if mnt.IDMapping == nil {
			mnt.IDMapping = &configs.MountIDMapping{}
		}
		mnt.IDMapping.UIDMappings = toIDMaps(m.UIDMappings)
		mnt.IDMapping.GIDMappings = toIDMaps(m.GIDMappings)
	}
	if mnt.IDMapping != nil && !mnt.IsBind() {
		return nil, fmt.Errorf("mount %q: id mapping is only supported"+
			" on bind mounts", m.Destination)
	}
	if mnt.TmpCopyUp && mnt.Device != "tmpfs" {
		return nil, fmt.Errorf("mount %q: option %q needs type tmpfs",
			m.Destination, optTmpCopyUp)
	}
	return mnt, nil
}

// parseOptions applies options to mnt and returns the ones that are file
// system data, in order. A later option overrides an earlier one, as in
// mount(8): "ro,rw" is read-write.
func parseOptions(mnt *configs.Mount, options []string) []string {
	var (
		data             []string
		attrSet, attrClr uint64
	)
	for _, o := range options {
		if f, ok := mountFlagOptions[o]; ok {
			if f.clear {
				mnt.Flags &^= f.flag
				mnt.ClearedFlags |= f.flag
			} else {
				mnt.Flags |= f.flag
				mnt.ClearedFlags &^= f.flag
			}
			continue
		}
		if p, ok := propagationOptions[o]; ok {
			mnt.PropagationFlags = append(mnt.PropagationFlags, p)
			continue
		}
		if r, ok := recAttrOptions[o]; ok {
			if r.clear {
				attrClr |= r.attr
				attrSet &^= r.attr
				continue
			}
			attrSet |= r.attr
			attrClr &^= r.attr
			// The access-time setting is one field, not a set of bits:
			// mount_setattr(2) wants all of MOUNT_ATTR__ATIME cleared to
			// change it. MOUNT_ATTR_RELATIME is 0, so it lands here too.
			if r.attr&unix.MOUNT_ATTR__ATIME == r.attr {
				attrClr |= unix.MOUNT_ATTR__ATIME
			}
			continue
		}
		switch o {
		case optIDMap, optRIDMap:
			mnt.IDMapping = &configs.MountIDMapping{
				Recursive: o == optRIDMap,
			}
		case optTmpCopyUp:
			mnt.TmpCopyUp = true
		default:
			data = append(data, o)
		}
	}
	if attrSet != 0 || attrClr != 0 {
		mnt.RecAttr = &unix.MountAttr{Attr_set: attrSet, Attr_clr: attrClr}
	}
	return data
}

func toIDMaps(maps []specs.LinuxIDMapping) []configs.IDMap {
	if maps == nil {
		return nil
	}
	out := make([]configs.IDMap, len(maps))
	for i, m := range maps {
		out[i] = configs.IDMap{
			ContainerID: int64(m.ContainerID),
			HostID:      int64(m.HostID),
			Size:        int64(m.Size),
		}
	}
	return out
}

// completeIDMappings gives "idmap" and "ridmap" mounts without maps of
// their own those of the container's user namespace (by path when the
// container joins one), as runc 1.2 does, and checks that every
// id-mapped mount can be made: an id-mapped mount is made by the runtime
// in the host's user namespace, which an unprivileged runtime cannot do
// (mount_setattr(2) needs CAP_SYS_ADMIN over the file system's namespace).
func completeIDMappings(c *configs.Config, rootlessEUID bool) error {
	for _, m := range c.Mounts {
		idm := m.IDMapping
		if idm == nil {
			continue
		}
		if idm.UIDMappings == nil && idm.GIDMappings == nil &&
			c.Namespaces.Contains(configs.NEWUSER) {
			if p := c.Namespaces.PathOf(configs.NEWUSER); p != "" {
				idm.UserNSPath = p
			} else {
				idm.UIDMappings = c.UIDMappings
				idm.GIDMappings = c.GIDMappings
			}
		}
		if rootlessEUID {
			return fmt.Errorf("mount %q: id-mapped mounts are not "+
				"supported for rootless containers", m.Destination)
		}
		if idm.UserNSPath == "" &&
			(len(idm.UIDMappings) == 0 || len(idm.GIDMappings) == 0) {
			return fmt.Errorf("mount %q: an id-mapped mount needs both "+
				"uidMappings and gidMappings, or a user namespace to "+
				"take them from", m.Destination)
		}
	}
	return nil
}
