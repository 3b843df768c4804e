package specconv

import (
	"bytes"
	"encoding/json"
	"errors"
)

// jsonUnmarshalStrict decodes one JSON value and refuses trailing data.
// Unknown fields are accepted: runtime-spec allows extensions.
func jsonUnmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
