#!/bin/bash
# Llama-2-7B-like pretraining with Megatron-LM: 2T tokens, 1024 x 4096-token sequences per step.
set -euo pipefail

GPUS_PER_NODE=8
NNODES=64
TP=2
PP=1
LR=3.0e-4

torchrun --nproc_per_node $GPUS_PER_NODE --nnodes $NNODES pretrain_gpt.py \
    --tensor-model-parallel-size $TP \
    --pipeline-model-parallel-size $PP \
    --num-layers 32 \
    --hidden-size 4096 \
    --ffn-hidden-size 11008 \
    --num-attention-heads 32 \
    --seq-length 4096 \
    --max-position-embeddings 4096 \
    --swiglu \
    --untie-embeddings-and-output-weights \
    --normalization RMSNorm \
    --micro-batch-size 1 \
    --global-batch-size 1024 \
    --train-iters 476837 \
    --lr $LR \
    --min-lr 3.0e-5 \
    --lr-decay-style cosine \
    --lr-warmup-iters 2000 \
    --weight-decay 0.1 \
    --adam-beta1 0.9 \
    --adam-beta2 0.95 \
    --adam-eps 1e-5 \
    --clip-grad 1.0 \
    --bf16 \
    --use-distributed-optimizer \
    --data-path /data/redpajama/text_document \
    --tokenizer-type Llama2Tokenizer
