package lag

import (
	"encoding/json"
	"io"
	"reflect"
	"strings"
)

// WriteJSON writes the snapshot as json.MarshalIndent(s, prefix, indent)
// would, byte for byte, but one element of each list at a time: for
// 100,000 partitions the whole document is about 100 MB, which built in
// memory before being written tripled the peak memory of
// `connect-sidecar status --json`.
func (s *Snapshot) WriteJSON(w io.Writer, prefix, indent string) error {
	ew := &errWriter{w: w}
	writeStruct(ew, reflect.ValueOf(s).Elem(), prefix, indent)
	return ew.err
}

// errWriter keeps the first write error, so that the writing code reads
// straight through.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) str(s string) {
	if e.err == nil {
		_, e.err = io.WriteString(e.w, s)
	}
}

func (e *errWriter) value(v any, prefix, indent string) {
	if e.err != nil {
		return
	}
	b, err := json.MarshalIndent(v, prefix, indent)
	if err != nil {
		e.err = err
		return
	}
	_, e.err = e.w.Write(b)
}

// writeStruct writes a struct's exported fields as encoding/json does
// (json tags, omitempty), streaming the elements of slice fields of
// structs one by one.
func writeStruct(w *errWriter, v reflect.Value, prefix, indent string) {
	t := v.Type()
	inner := prefix + indent
	first := true
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fv := v.Field(i)
		if strings.Contains(opts, "omitempty") && isEmpty(fv) {
			continue
		}
		if first {
			w.str("{\n")
			first = false
		} else {
			w.str(",\n")
		}
		key, _ := json.Marshal(name)
		w.str(inner + string(key) + ": ")
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct && !fv.IsNil() && fv.Len() > 0 {
			w.str("[\n")
			for j := range fv.Len() {
				if j > 0 {
					w.str(",\n")
				}
				w.str(inner + indent)
				w.value(fv.Index(j).Interface(), inner+indent, indent)
			}
			w.str("\n" + inner + "]")
			continue
		}
		w.value(fv.Interface(), inner, indent)
	}
	if first {
		w.str("{}")
		return
	}
	w.str("\n" + prefix + "}")
}

// isEmpty is encoding/json's test for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}
