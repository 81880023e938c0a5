// EXIF tags as JSON, through libexif: the tags preprocessing keeps in metadata.system.exif, with
// numbers as JSON numbers and GPS positions as signed decimal degrees.
#pragma once

#include <string_view>

#include "core/json_util.h"

namespace dlfs {

// The kept tags of an EXIF block: "Exif\0\0" followed by a TIFF structure (what JPEG's APP1,
// PNG's eXIf and WebP's EXIF chunk carry; a bare TIFF structure is accepted too). Unknown,
// malformed or absurd entries are left out; a block libexif cannot parse answers {}.
//
//   Orientation, ISO, Flash                          integers
//   ExposureTime, FNumber, FocalLength               numbers (rationals)
//   Make, Model, Software, LensModel, DateTime,      strings (printable ASCII)
//   DateTimeOriginal
//   GPSLatitude, GPSLongitude                        numbers, degrees, negative south / west
//   GPSAltitude                                      number, metres, negative below sea level
// `readable`, when given, is set false if the block is there but holds no entry libexif can read
// (a broken EXIF structure), true otherwise.
json exif_to_json(std::string_view block, bool* readable = nullptr);

// The same tags from a TIFF file, whose EXIF lives in its own directories (libtiff reads them;
// libvips hands over no EXIF block for TIFF). {} when libtiff cannot open it.
json tiff_exif_to_json(std::string_view tiff);

}  // namespace dlfs
