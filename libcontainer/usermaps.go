package libcontainer

import (
	"os"

	"github.com/towel-runtime/towel/libcontainer/configs"
)

// denySetgroups reports whether "deny" must be written to a new user
// namespace's setgroups file before its gid_map. An unprivileged process
// may map only its own gid, and only once setgroups(2) is denied in the
// namespace (user_namespaces(7), "Interaction with system calls that
// change process UIDs or GIDs"): that is the case when towel is not root
// and gidMaps is that one mapping. Any other map is written by newgidmap,
// which settles setgroups itself, or by root, who needs no deny.
func denySetgroups(gidMaps []configs.IDMap) bool {
	if os.Geteuid() == 0 {
		return false
	}
	return len(gidMaps) == 1 && gidMaps[0].Size == 1 &&
		gidMaps[0].HostID == int64(os.Getegid())
}
