// dlfs cache stat | clear [DATASET]
#include "tools/dlfs/cli.h"

namespace dlfs::cli {

Status cmd_cache(const Globals&, const Args&) { return Status(ENOSYS, "not yet"); }

}  // namespace dlfs::cli
