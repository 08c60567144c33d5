package awsmodel

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract"
)

// ModelEnv names the environment variable that points at EC2's
// service-2.json.gz (or service-2.json).
const ModelEnv = "HADDOCK_AWS_EC2_MODEL"

// modelRel is where the model lives below a shared/ directory.
var modelRel = filepath.Join("specs", "aws-botocore", "ec2", "2016-11-15", "service-2.json.gz")

// Model is a botocore service model: the parts a validator needs.
type Model struct {
	Metadata struct {
		APIVersion   string `json:"apiVersion"`
		Protocol     string `json:"protocol"`
		XMLNamespace string `json:"xmlNamespace"`
		// EndpointPrefix is the service's name in SigV4 credential scopes
		// ("ec2", "elasticloadbalancing").
		EndpointPrefix      string `json:"endpointPrefix"`
		ServiceAbbreviation string `json:"serviceAbbreviation"`
	} `json:"metadata"`
	Operations map[string]Operation `json:"operations"`
	Shapes     map[string]*Shape    `json:"shapes"`
}

// Operation is one action.
type Operation struct {
	Input  *ShapeRef `json:"input"`
	Output *ShapeRef `json:"output"`
}

// ShapeRef refers to a shape, with the serialization names a member has.
type ShapeRef struct {
	Shape        string `json:"shape"`
	LocationName string `json:"locationName"`
	QueryName    string `json:"queryName"`
	Flattened    bool   `json:"flattened"`
	// ResultWrapper is the element an operation's output is wrapped in
	// (query protocol: <ActionResult>).
	ResultWrapper string `json:"resultWrapper"`
}

// Shape is a structure, list, map or scalar.
type Shape struct {
	Type     string               `json:"type"`
	Members  map[string]*ShapeRef `json:"members"`
	Required []string             `json:"required"`
	Member   *ShapeRef            `json:"member"`
	Enum     []string             `json:"enum"`
	Min      *float64             `json:"min"`
	Max      *float64             `json:"max"`
	// Flattened: a list serialized without the member level (query
	// protocol).
	Flattened bool `json:"flattened"`
}

// FindModel returns the path of EC2's service model: $HADDOCK_AWS_EC2_MODEL,
// or shared/specs/aws-botocore/ec2/2016-11-15/service-2.json.gz found
// walking up from the working directory (see contract.FindShared).
func FindModel() (string, error) {
	p, err := contract.FindShared(ModelEnv, modelRel)
	if err != nil {
		return "", fmt.Errorf("EC2 service model not found: %w", err)
	}
	return p, nil
}

// LoadModel reads a service model, gzipped when its name ends in .gz.
func LoadModel(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var r interface{ Read([]byte) (int, error) } = f
	if filepath.Ext(path) == ".gz" {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	}
	var m Model
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Metadata.Protocol != "ec2" && m.Metadata.Protocol != "query" {
		return nil, fmt.Errorf("%s: protocol %q, want ec2 or query", path, m.Metadata.Protocol)
	}
	return &m, nil
}

var (
	modelOnce sync.Once
	model     *Model
	modelErr  error
)

// EC2 loads EC2's model once per process.
func EC2() (*Model, error) {
	modelOnce.Do(func() {
		p, err := FindModel()
		if err == nil {
			model, err = LoadModel(p)
		}
		modelErr = err
	})
	return model, modelErr
}
