"""`latent-atlas directions FILE --attribute NAME`: edit directions for one attribute, compared on the same
held-out images (models/quality/direction_report.py), printed as a table."""
from __future__ import annotations


def _methods(text: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in text.split(",") if m.strip())


def format_comparison(c) -> list[str]:
    read = ", ".join(f"{v:.3f} ({k})" for k, v in c.reader_accuracy.items())
    lines = [f"model:     {c.model}",
             f"attribute: {c.attribute}; step {c.step:.3f} along each unit direction",
             f"fitted on: {c.fitted_on}",
             f"walked:    {c.walked}",
             f"reader:    {c.reader}" + (f"; right on {read} of the test images" if read else ""),
             f"others:    {', '.join(c.others) or 'none'} (read-outs right on at least 0.8 of the test images)",
             f"off data:  farther than {c.threshold:.3f} from every fitted latent (99% have a neighbour nearer)",
             ""]
    header = f"{'method':<11} {'direction':<18} {'|cos| mean':>10} {'hit rate':>9} {'others chg':>10} " \
             f"{'off data':>8}  found with"
    lines += [header, "-" * len(header)]
    before = next((r.score for r in c.rows if r.score is not None), None)
    if before is not None:
        lines.append(f"{'(no edit)':<11} {'-':<18} {'-':>10} {before.hit_rate_before:>9.3f} {'-':>10} "
                     f"{before.off_data_before:>8.3f}  the walked latents as they are")
    for r in c.rows:
        if r.direction is None:
            lines.append(f"{r.method:<11} {'-':<18} {'-':>10} {'-':>9} {'-':>10} {'-':>8}  {r.problem}")
            continue
        s = r.score
        lines.append(f"{r.method:<11} {r.direction.name:<18} {r.cosine_to_mean:>10.3f} {s.hit_rate:>9.3f} "
                     f"{s.others_changed:>10.3f} {s.off_data:>8.3f}  {r.direction.note}")
    return lines


def run_directions(args) -> int:
    from latent_atlas.models.quality.direction_report import compare_directions

    comparison = compare_directions(args.file, args.attribute, methods=_methods(args.methods), step=args.step,
                                    limit=args.limit, fit=args.fit, seed=args.seed, dataset=args.dataset,
                                    classifier=args.classifier)
    print("\n".join(format_comparison(comparison)))
    return 0
