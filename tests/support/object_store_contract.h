// What every ObjectStore (platform/object_store.h) must do, checked the same way for each: the
// local folder, the in-memory fake, S3 (s3rver) and Azure Blob (Azurite). Each function adds
// gtest failures; call it from a test with a store on an empty bucket.
#pragma once

#include <string>

#include "platform/object_store.h"

namespace dlfs::test {

// put_bytes/put_file (replacing too), head, read (ranges, at and past the end), remove (also of
// a missing object), ENOENT for missing objects, bad keys refused. `scratch` is a local folder
// for the file to upload; `big_bytes` the size of the file put (a few MB streams it).
void check_object_store_basics(ObjectStore& store, const std::string& scratch, size_t big_bytes = 3 << 20);

// list(): key order, prefix filtering (a prefix that is not a folder too), stopping early, names
// with spaces, '+', '%', unicode; `count` objects under one prefix (more than a page, where the
// store pages).
void check_object_store_listing(ObjectStore& store, size_t count = 30);

// copy(): the bytes at the new key (names with a space too), the source kept, a copy over an
// object replacing it, ENOENT for a missing source (and nothing made).
void check_object_store_copy(ObjectStore& store);

}  // namespace dlfs::test
