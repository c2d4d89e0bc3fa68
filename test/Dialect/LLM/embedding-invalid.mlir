// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @table_rank(%table: tensor<100xf32>, %ids: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.embedding' op expects table of rank 2 [vocab, hidden], got rank 1}}
  %r = llm.embedding %table, %ids : (tensor<100xf32>, tensor<2x5xi32>) -> tensor<2x5x64xf32>
  return
}

// -----

func.func @ids_rank(%table: tensor<100x64xf32>, %ids: tensor<10xi32>) {
  // expected-error @+1 {{'llm.embedding' op expects ids of rank 2 [batch, seq], got rank 1}}
  %r = llm.embedding %table, %ids : (tensor<100x64xf32>, tensor<10xi32>) -> tensor<1x10x64xf32>
  return
}

// -----

func.func @result_rank(%table: tensor<100x64xf32>, %ids: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.embedding' op expects result of rank 3 [batch, seq, hidden], got rank 2}}
  %r = llm.embedding %table, %ids : (tensor<100x64xf32>, tensor<2x5xi32>) -> tensor<10x64xf32>
  return
}

// -----

func.func @result_batch(%table: tensor<100x64xf32>, %ids: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.embedding' op result batch size (3) does not match ids batch size (2)}}
  %r = llm.embedding %table, %ids : (tensor<100x64xf32>, tensor<2x5xi32>) -> tensor<3x5x64xf32>
  return
}

// -----

func.func @result_seq(%table: tensor<100x64xf32>, %ids: tensor<2x5xi64>) {
  // expected-error @+1 {{'llm.embedding' op result sequence length (4) does not match ids sequence length (5)}}
  %r = llm.embedding %table, %ids : (tensor<100x64xf32>, tensor<2x5xi64>) -> tensor<2x4x64xf32>
  return
}

// -----

func.func @result_hidden(%table: tensor<100x64xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{'llm.embedding' op result hidden size (32) does not match table hidden size (64)}}
  %r = llm.embedding %table, %ids : (tensor<100x64xf32>, tensor<?x?xi32>) -> tensor<?x?x32xf32>
  return
}

// -----

func.func @result_element_type(%table: tensor<100x64xf32>, %ids: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.embedding' op element type of result ('f16') does not match table ('f32')}}
  %r = llm.embedding %table, %ids : (tensor<100x64xf32>, tensor<2x5xi32>) -> tensor<2x5x64xf16>
  return
}

// -----

func.func @float_ids(%table: tensor<100x64xf32>, %ids: tensor<2x5xf32>) {
  // expected-error @+1 {{'llm.embedding' op operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<2x5xf32>'}}
  %r = llm.embedding %table, %ids : (tensor<100x64xf32>, tensor<2x5xf32>) -> tensor<2x5x64xf32>
  return
}

// -----

func.func @i16_ids(%table: tensor<100x64xf32>, %ids: tensor<2x5xi16>) {
  // expected-error @+1 {{'llm.embedding' op operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<2x5xi16>'}}
  %r = llm.embedding %table, %ids : (tensor<100x64xf32>, tensor<2x5xi16>) -> tensor<2x5x64xf32>
  return
}

// -----

func.func @integer_table(%table: tensor<100x64xi8>, %ids: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.embedding' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<100x64xi8>'}}
  %r = llm.embedding %table, %ids : (tensor<100x64xi8>, tensor<2x5xi32>) -> tensor<2x5x64xf32>
  return
}

// -----

func.func @f64_result(%table: tensor<100x64xf32>, %ids: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.embedding' op result #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<2x5x64xf64>'}}
  %r = llm.embedding %table, %ids : (tensor<100x64xf32>, tensor<2x5xi32>) -> tensor<2x5x64xf64>
  return
}

// -----

func.func @unranked_table(%table: tensor<*xf32>, %ids: tensor<2x5xi32>) {
  // expected-error @+1 {{'llm.embedding' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<*xf32>'}}
  %r = llm.embedding %table, %ids : (tensor<*xf32>, tensor<2x5xi32>) -> tensor<2x5x64xf32>
  return
}
