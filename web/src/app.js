// The progressive layer of the report page: placeholder until the layer lands.
document.documentElement.dataset.mode = "server";
