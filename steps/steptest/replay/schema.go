package replay

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Schema holds the property names of the microsoft.graph types of
// Microsoft's published v1.0 schema (shared/graph/v1.0-Prod.csdl).
type Schema struct {
	types map[string]schemaType
}

type schemaType struct {
	base  string
	props map[string]bool // lower-case names
}

// SchemaPath is where the project keeps the v1.0 schema: beside the
// clone, in ../shared/graph.
func SchemaPath() string {
	return filepath.Join(Dir(), "..", "..", "..", "shared", "graph", "v1.0-Prod.csdl")
}

// LoadSchema reads a CSDL file.
func LoadSchema(path string) (*Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	type prop struct {
		Name string `xml:"Name,attr"`
	}
	type typ struct {
		Name     string `xml:"Name,attr"`
		BaseType string `xml:"BaseType,attr"`
		Props    []prop `xml:"Property"`
		Navs     []prop `xml:"NavigationProperty"`
	}
	var doc struct {
		Schemas []struct {
			Namespace string `xml:"Namespace,attr"`
			Entities  []typ  `xml:"EntityType"`
			Complex   []typ  `xml:"ComplexType"`
		} `xml:"DataServices>Schema"`
	}
	if err := xml.NewDecoder(f).Decode(&doc); err != nil {
		return nil, fmt.Errorf("replay: %s: %w", path, err)
	}
	s := &Schema{types: map[string]schemaType{}}
	for _, sc := range doc.Schemas {
		if sc.Namespace != "microsoft.graph" {
			continue
		}
		for _, t := range append(sc.Entities, sc.Complex...) {
			st := schemaType{base: t.BaseType, props: map[string]bool{}}
			for _, p := range append(t.Props, t.Navs...) {
				st.props[strings.ToLower(p.Name)] = true
			}
			s.types["graph."+t.Name] = st
		}
	}
	return s, nil
}

// HasProperty reports whether typ (e.g. graph.user) or one of its base
// types has the property, compared without regard to case as Graph
// compares $select names.
func (s *Schema) HasProperty(typ, name string) bool {
	for t, ok := s.types[typ]; ok; t, ok = s.types[t.base] {
		if t.props[strings.ToLower(name)] {
			return true
		}
	}
	return false
}

// Has reports whether the schema has the type.
func (s *Schema) Has(typ string) bool {
	_, ok := s.types[typ]
	return ok
}
