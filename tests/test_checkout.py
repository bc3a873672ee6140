"""Jobs import the workflow's own cnnstudy package, as installed (into .venv by make, into the
conda environments by their post-deploy scripts), and fail naming both places when they would
import another copy."""

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import setuptools
from conftest import ROOT, copy_repository, smk

from cnnstudy.checkout import CHECKOUT_VARIABLE, WrongCheckoutError, check_package

ENVS = sorted((ROOT / "envs").glob("*.yaml"))


def test_the_package_of_this_checkout_passes_and_another_fails_naming_both(tmp_path):
    check_package(ROOT, str(ROOT / "src" / "cnnstudy" / "__init__.py"), "python")
    other = tmp_path / "other" / "src" / "cnnstudy" / "__init__.py"
    with pytest.raises(WrongCheckoutError) as error:
        check_package(ROOT, str(other), "/opt/py/bin/python")
    message = str(error.value)
    assert str(other.parent) in message and str(ROOT / "src" / "cnnstudy") in message
    assert f"/opt/py/bin/python -m pip install -e {ROOT}" in message and "--sdm conda" in message
    with pytest.raises(WrongCheckoutError, match="cannot import cnnstudy"):
        check_package(ROOT, None, "python")


def test_a_workflow_whose_python_holds_another_checkout_is_refused_before_any_job(tmp_path):
    """A copy of the repository run by a Python that has this checkout installed: its jobs
    would run this checkout's code under the copy's digests."""
    snakefile = copy_repository(tmp_path / "copy")
    config = str(snakefile.parent / "config" / "config.yaml")
    proc = smk(tmp_path, "-n", "--configfile", config, snakefile=snakefile, env={"PYTHONPATH": ""}, check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert f"imports cnnstudy from {ROOT / 'src' / 'cnnstudy'}" in output
    assert f"not from this workflow's code ({tmp_path / 'copy' / 'src' / 'cnnstudy'})" in output


def test_a_job_that_imported_another_checkout_fails_in_its_log(tmp_path):
    log = tmp_path / "job.log"
    script = f"from cnnstudy.logs import script_log\nwith script_log({str(log)!r}) as log:\n    log('ran')\n"
    env = {**os.environ, CHECKOUT_VARIABLE: str(tmp_path / "elsewhere"), "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    text = log.read_text()
    assert (
        "ERROR: " in text and f"not from this workflow's code ({tmp_path / 'elsewhere' / 'src' / 'cnnstudy'})" in text
    )
    assert "ran" not in text.splitlines()[-1]
    env[CHECKOUT_VARIABLE] = str(ROOT)
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    assert log.read_text().splitlines()[-1].endswith("] ran")


@pytest.mark.parametrize("env_file", ENVS, ids=lambda p: p.stem)
def test_every_conda_env_installs_the_package_with_its_post_deploy_script(env_file):
    text = env_file.read_text()
    assert "  - pip\n" in text and "  - setuptools>=70.1" in text
    script = env_file.with_suffix(".post-deploy.sh")  # the name Snakemake looks for
    assert script.read_text() == (ROOT / "envs" / "torch.post-deploy.sh").read_text()


def test_the_post_deploy_script_installs_this_checkout_importable_from_anywhere(tmp_path):
    """Run as Snakemake runs it (its environment's python first on PATH, from the working
    directory), in a fresh environment without cnnstudy: afterwards the package imports from
    any directory and passes the jobs' check."""
    env_dir = tmp_path / "env"
    venv.create(env_dir)
    python = env_dir / "bin" / "python"
    # pip and setuptools as a conda env has them (those of this Python, offline): a plain path
    # to their folder, whose own .pth files (this checkout's editable install) stay unread
    site = subprocess.check_output([str(python), "-c", "import site; print(site.getsitepackages()[0])"], text=True)
    Path(site.strip(), "build_tools.pth").write_text(str(Path(setuptools.__file__).parents[1]) + "\n")
    work = tmp_path / "work"
    work.mkdir()
    imports = [str(python), "-c", "import cnnstudy.checkout as c; print(c.__file__); c.check_this_process()"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PATH=f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}", **{CHECKOUT_VARIABLE: str(ROOT)})
    before = subprocess.run(imports, cwd=work, env=env, capture_output=True, text=True)
    assert before.returncode != 0 and "No module named 'cnnstudy'" in before.stderr
    deploy = ROOT / "envs" / "torch.post-deploy.sh"
    subprocess.run(["bash", str(deploy)], cwd=work, env=env, check=True, capture_output=True)
    after = subprocess.run(imports, cwd=work, env=env, capture_output=True, text=True, check=True)
    assert Path(after.stdout.strip()) == ROOT / "src" / "cnnstudy" / "checkout.py"
    unset = {k: v for k, v in env.items() if k != CHECKOUT_VARIABLE}
    proc = subprocess.run(["bash", str(deploy)], cwd=work, env=unset, capture_output=True, text=True)
    assert proc.returncode != 0 and "run through the workflow" in proc.stderr
