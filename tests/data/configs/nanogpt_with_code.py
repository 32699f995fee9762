# A nanoGPT override file that also contains code. hpadvisor must read it as text only:
# if any line below ran, a file named hpadvisor_executed.marker would appear.
import os
from pathlib import Path

learning_rate = 1e-3
max_iters = 5000
batch_size = 64
block_size = 256

Path("hpadvisor_executed.marker").write_text("the config was executed")
os.system("touch hpadvisor_executed.marker")
warmup_iters = int(open("hpadvisor_executed.marker", "w").write("x") or 100)
exec("open('hpadvisor_executed.marker', 'w').close()")
lr_decay_iters = __import__("os").system("touch hpadvisor_executed.marker") or 5000
min_lr = learning_rate / 10
