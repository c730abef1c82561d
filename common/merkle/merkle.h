// The whole public face of common/merkle in one include, for callers that use most of it.
#pragma once

#include "common/merkle/compact_range.h"  // IWYU pragma: export
#include "common/merkle/hasher.h"         // IWYU pragma: export
#include "common/merkle/node_id.h"        // IWYU pragma: export
#include "common/merkle/proof.h"          // IWYU pragma: export
#include "common/merkle/tile.h"           // IWYU pragma: export
