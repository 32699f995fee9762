# nanoGPT override file: GPT-2 small (124M) on OpenWebText, 8 GPUs on one node.
# Passed as `python train.py config/train_gpt2.py`; hpadvisor reads it as text.
wandb_log = True
wandb_project = 'owt'
wandb_run_name = 'gpt2-124M'

# per-GPU micro batch 12 sequences of 1024 tokens; accumulation counted over all 8 GPUs
batch_size = 12
block_size = 1024
gradient_accumulation_steps = 5 * 8

# about 300B tokens: 600k iterations of 491,520 tokens
max_iters = 600000
lr_decay_iters = max_iters
warmup_iters = 2000

learning_rate = 6e-4
min_lr = 6e-5

eval_interval = 1000
eval_iters = 200
log_interval = 10

weight_decay = 1e-1
