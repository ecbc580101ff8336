/* cfg_sweep.h: sweeps: a set of variant experiments declared in one file.
 *
 * experiments/sweeps/NAME.cfg:
 *     base = "tiny";                       # an experiment in experiments/
 *     variants = (
 *         { name = "lr_low";  set = [ "train.lr = 0.05" ]; },
 *         { name = "lr_high"; set = [ "train.lr = 0.2", "train.momentum = 0.8" ]; }
 *     );
 *
 * Each variant becomes the experiment file experiments/NAME@VARIANT.cfg:
 * the base experiment pulled in with @include plus an `overrides` group made
 * of the variant's "section.key = value" (or top-level "key = value")
 * assignments, values in libconfig syntax. Such files are generated (git-ignored); they are rewritten only
 * when their text changes, so the DAG sees them as stale only then. Every
 * generated file is loaded and validated before the sweep counts as set up. */
#ifndef CFG_SWEEP_H
#define CFG_SWEEP_H

/* Reads the sweep file, validates it, writes one experiment file per variant
 * into experiments_dir and returns their experiment names ("NAME@VARIANT")
 * in *names (malloc'd array of malloc'd strings; free each and the array)
 * and their count in *count. Errors name the sweep file and line, or the
 * generated file and line when a variant's settings are invalid. */
int cfg_sweep_generate(const char *sweep_path, const char *experiments_dir, char ***names,
                       int *count);

#endif
