package storage

import "hash/crc32"

// castagnoli is the CRC-32C table used by every checksum storage writes
// (WAL records, segment blocks and footers, manifest): hardware-assisted
// on amd64 and arm64.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the CRC-32C of b.
func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// crcUpdate continues a CRC-32C over more bytes.
func crcUpdate(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }
