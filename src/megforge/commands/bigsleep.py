"""BigSleep (BigGAN + CLIP) on CPU in MegEngine: ``megforge bigsleep PROMPT --steps N --out DIR``.

With ``--biggan DIR`` (pytorch_model.bin + config.json of pytorch-pretrained-biggan) and
``--clip FILE`` (an OpenAI CLIP checkpoint) it runs the real models. Without them it uses
small seeded random-weight models and says so: the pipeline runs end to end, but the
pictures do not show the prompt.
"""

from __future__ import annotations

import argparse
from pathlib import Path

# Small random models for runs without checkpoints (seconds per step on a laptop CPU).
RANDOM_BIGGAN = dict(output_dim=64, z_dim=128, class_embed_dim=128, channel_width=8, num_classes=1000,
                     layers=[(False, 16, 16), (True, 16, 8), (True, 8, 4), (True, 4, 2), (True, 2, 1)],
                     attention_layer_position=3, eps=1e-4, n_stats=51)
RANDOM_CUTOUTS = 16


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bigsleep", help="BigSleep: optimise BigGAN latents towards a text prompt (CPU)",
                              description="BigSleep on CPU: optimise BigGAN's latents until CLIP sees the "
                                          "prompt in the image; PNG snapshots go to --out.")
    p.add_argument("prompt", help='text to imagine; "a|b" targets several phrases')
    p.add_argument("--steps", type=int, default=100, help="optimisation steps (default 100)")
    p.add_argument("--out", type=Path, required=True, help="directory for the PNG snapshots")
    p.add_argument("--biggan", type=Path, help="directory with pytorch_model.bin + config.json")
    p.add_argument("--clip", type=Path, help="CLIP checkpoint file (TorchScript archive or state dict)")
    p.add_argument("--text-min", default="", help="phrases to steer away from ('|'-separated)")
    p.add_argument("--lr", type=float, default=0.07, help="Adam learning rate (default 0.07)")
    p.add_argument("--num-cutouts", type=int, default=None,
                   help=f"crops per step (default 128; {RANDOM_CUTOUTS} with the random models)")
    p.add_argument("--save-every", type=int, default=50, help="snapshot every N steps (default 50)")
    p.add_argument("--ema-decay", type=float, default=0.99, help="decay of the latents' EMA (default 0.99)")
    p.add_argument("--max-classes", type=int, default=None, help="limit the number of active classes")
    p.add_argument("--seed", type=int, default=0, help="seed of latents and crops (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from megforge.errors import InvalidArgumentError
    from megforge.models import biggan
    from megforge.models.bigsleep import BigSleep, BigSleepConfig
    from megforge.models.imagine import imagine, load_perceptor, random_perceptor, text_path

    if args.steps < 1 or args.save_every < 1:
        raise InvalidArgumentError(f"--steps and --save-every must be >= 1, got {args.steps}, {args.save_every}")
    random_models = args.biggan is None or args.clip is None
    cutouts = args.num_cutouts if args.num_cutouts is not None else (RANDOM_CUTOUTS if random_models else 128)
    config = BigSleepConfig(num_cutouts=cutouts, lr=args.lr, ema_decay=args.ema_decay,
                            max_classes=args.max_classes)  # validates before any model is built
    notes = []
    if args.biggan is not None:
        gan = biggan.load_pretrained(args.biggan)
    else:
        gan = biggan.from_state_dict(biggan.random_state_dict(RANDOM_BIGGAN, seed=args.seed), RANDOM_BIGGAN)
        notes.append(f"BigGAN: no --biggan given, using a small random-weight BigGAN "
                     f"({RANDOM_BIGGAN['output_dim']}x{RANDOM_BIGGAN['output_dim']}, channel_width "
                     f"{RANDOM_BIGGAN['channel_width']})")
    if args.clip is not None:
        perceptor = load_perceptor(args.clip)
    else:
        perceptor = random_perceptor(seed=args.seed)
        notes.append("CLIP: no --clip given, using a small random-weight CLIP")
    if notes:
        print("megforge bigsleep: " + "; ".join(notes) + ". The images will NOT depict the prompt: "
              "random weights only exercise the pipeline.", flush=True)
    model = BigSleep(gan, perceptor, replace(config, input_resolution=perceptor.input_resolution), seed=args.seed)
    paths = imagine(model, args.prompt, perceptor.encode_text, args.steps, args.out, text_min=args.text_min,
                    save_every=args.save_every, progress=not args.no_progress)
    print(f"megforge bigsleep: {args.steps} steps, {len(paths)} snapshot(s) in {args.out}; latest: "
          f"{args.out / (text_path(args.prompt, args.text_min) + '.png')}")
    return 0
