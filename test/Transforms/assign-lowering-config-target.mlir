// RUN: kiln-opt %s --kiln-assign-lowering-config=target=tpu -verify-diagnostics

// expected-error @+1 {{kiln-assign-lowering-config: unknown target 'tpu' (supported: cpu, cuda)}}
module {
}
