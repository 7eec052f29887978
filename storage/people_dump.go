package storage

// DumpPeopleFile prints a people file for people (`arb debug people
// FILE`): its frame, project, counts, every profile row and the identity
// pairs. Rows come from readPeopleFile, so what it prints is what the
// store would load; the layout is in people_file.go and
// docs/format/people.md.

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// DumpPeopleFile writes a readable listing of the people file at path.
// Damage is returned as the error readPeopleFile gives (ErrCorruption).
func DumpPeopleFile(w io.Writer, fs FS, path string) error {
	data, err := readWholeFile(fs, path)
	if err != nil {
		return err
	}
	st, err := readPeopleFile(fs, path)
	if err != nil {
		return err
	}
	magic := string(data[:8]) // readPeopleFile checked the frame
	body := data[framedHeaderBytes:]
	var b strings.Builder
	fmt.Fprintf(&b, "people file %s: %d bytes, magic %s, body %d bytes, CRC-32C %08x (verified)\n",
		path, len(data), magic, len(body), binary.LittleEndian.Uint32(data[12:]))
	fmt.Fprintf(&b, "project %q: %d people, %d groups, identity state %d bytes\n",
		peopleFileProject(magic, body), len(st.people), len(st.groups), len(st.identity))
	for _, part := range []struct {
		name string
		rows []Person
	}{{"people", st.people}, {"groups", st.groups}} {
		fmt.Fprintf(&b, "%s:\n", part.name)
		for _, r := range part.rows {
			fmt.Fprintf(&b, "  %s %s\n", strconv.Quote(r.DistinctID), formatProps(r.Props))
		}
	}
	if len(st.identity) > 0 {
		dumpIdentity(&b, st.identity)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// peopleFileProject reads the project name from the first event batch of
// a checked body ("" if it cannot).
func peopleFileProject(magic string, body []byte) string {
	if magic == peopleMagic {
		d := &batchDecoder{src: body}
		n := d.uvarint()
		if d.err != nil || n > uint64(len(body)-d.off) {
			return ""
		}
		body = body[d.off : d.off+int(n)]
	}
	b, err := DecodeEventBatch(body)
	if err != nil {
		return ""
	}
	return b.Project
}

// formatProps renders properties as key:type=value, values as JSON.
func formatProps(props []Prop) string {
	parts := make([]string, len(props))
	for i, p := range props {
		v, _ := p.Value.MarshalJSON()
		parts[i] = fmt.Sprintf("%s:%s=%s", strconv.Quote(p.Key), p.Value.Type, v)
	}
	return strings.Join(parts, " ")
}

// dumpIdentity lists the union-find pairs and user-id marks (identity.go
// encoding), sorted by user number.
func dumpIdentity(b *strings.Builder, ident []byte) {
	d := &batchDecoder{src: ident}
	pairs := d.count("identity pairs", 2)
	var merged [][2]uint64
	for i := 0; i < pairs && d.err == nil; i++ {
		u, c := d.uvarint(), d.uvarint()
		merged = append(merged, [2]uint64{u, c})
	}
	marks := d.count("user-id marks", 1)
	var users []uint64
	for i := 0; i < marks && d.err == nil; i++ {
		users = append(users, d.uvarint())
	}
	sort.Slice(merged, func(i, j int) bool { return merged[i][0] < merged[j][0] })
	sort.Slice(users, func(i, j int) bool { return users[i] < users[j] })
	fmt.Fprintf(b, "identity: %d merged users, %d marked as user ids\n", pairs, marks)
	for _, m := range merged {
		fmt.Fprintf(b, "  user %d -> canonical %d\n", m[0], m[1])
	}
	if len(users) > 0 {
		fmt.Fprintf(b, "  user ids: %v\n", users)
	}
	if d.err != nil {
		fmt.Fprintf(b, "  undecodable: %v\n", d.err)
	}
}

// DumpUserStateRun writes a readable listing of a user state run
// (user_state_run.go): each key's identity chunk or profile, by user
// number. Damage is returned as ErrCorruption naming the file and offset.
func DumpUserStateRun(w io.Writer, fs FS, path string) error {
	r, err := openUserStateRun(fs, path)
	if err != nil {
		return err
	}
	defer r.close()
	var b strings.Builder
	fmt.Fprintf(&b, "user state run %s: %d bytes, magic %s, %d entries in %d blocks\n", path, r.bytes, userStateMagic, r.entries, len(r.first))
	var bad error
	err = r.scan(0, ^uint64(0), true, func(e userStateEntry) bool {
		kind, n := uint32(e.key>>32), uint32(e.key)
		switch {
		case e.del && kind == userStateGroups:
			fmt.Fprintf(&b, "group bucket %08x: deleted\n", n)
		case e.del:
			fmt.Fprintf(&b, "person %d: deleted\n", n)
		case kind == userStatePerson:
			props, err := decodePersonValue(e.val)
			if err != nil {
				bad = corruptf(path, 0, "profile of user %d: %v", n, err)
				return false
			}
			fmt.Fprintf(&b, "person %d: %s\n", n, formatProps(props))
		case kind == userStateIdentity:
			ch, err := decodeIdentChunk(e.val, n, 1<<32-1)
			if err != nil {
				bad = corruptf(path, 0, "%v", err)
				return false
			}
			fmt.Fprintf(&b, "identity chunk %d (users %d-%d):\n", n, n<<canonChunkBits, (n+1)<<canonChunkBits-1)
			for o := range identChunkUsers {
				u := n<<canonChunkBits | uint32(o)
				if c := ch.canonOf(u); c != u {
					fmt.Fprintf(&b, "  user %d -> canonical %d\n", u, c)
				}
				if ch.marked(u) {
					fmt.Fprintf(&b, "  user %d is a user id\n", u)
				}
			}
		case kind == userStateGroups:
			rows, err := decodeGroupBucket(e.val, n)
			if err != nil {
				bad = corruptf(path, 0, "%v", err)
				return false
			}
			for _, r := range rows {
				fmt.Fprintf(&b, "group %s: %s\n", strconv.Quote(r.DistinctID), formatProps(r.Props))
			}
		default:
			fmt.Fprintf(&b, "key %x: unknown kind %d, %d bytes\n", e.key, kind, len(e.val))
		}
		return true
	})
	if err == nil {
		err = bad
	}
	io.WriteString(w, b.String())
	return err
}
