from roofprof.cli import main

main(prog_name="roofprof")
