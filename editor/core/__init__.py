"""Editor logic without Qt: state, messages between threads, image conversion, export, recipes."""
